package io.stagewise.jobs;

import static io.stagewise.jobs.PaymentsRun.header;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.stagewise.gateway.Fault;
import io.stagewise.gateway.FaultPolicy;
import io.stagewise.gateway.GatewaySettings;
import io.stagewise.jobs.payments.PaymentsWorkflow;
import io.stagewise.operators.event.StagewiseHeaders;
import io.stagewise.operators.retry.RetryLadder;
import io.stagewise.savepoints.SavepointInspection;
import io.stagewise.testkit.PaymentGenerator;
import io.stagewise.testkit.Sandbox;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code stagewise savepoint inspect}'s reader against a real savepoint and a real retained
 * checkpoint of the payments pipeline, taken mid-run with events waiting in retry step 1 (the
 * first charge of two accounts' first payments fails, the ladder delay is ten minutes) and the
 * later payments of those accounts parked behind them (per-key ordering); everything else
 * completed.
 */
class SavepointInspectionITCase {
    private static final ObjectMapper JSON = new ObjectMapper();

    @RegisterExtension
    static final Sandbox SANDBOX = new Sandbox();

    @Test
    void aSavepointTakenMidRunShowsWhatTheRunPutThere() throws Exception {
        long seed = 301;
        PaymentGenerator.Plan plan = PaymentGenerator.plan(new PaymentGenerator.Settings(60, 0.05, 0.0, seed, 10));
        Map<String, List<String>> orderByAccount = new HashMap<>();
        for (PaymentGenerator.Record r : plan.records()) {
            if (r.key() != null) {
                List<String> ids = orderByAccount.computeIfAbsent(new String(r.key(), StandardCharsets.UTF_8), k -> new ArrayList<>());
                String id = JSON.readTree(r.value()).path("id").asText();
                if (!ids.contains(id)) {
                    ids.add(id);
                }
            }
        }
        List<String> accounts = List.of("acct-3", "acct-7");
        Set<String> targets = new HashSet<>();
        Map<String, List<String>> parked = new HashMap<>();
        for (String account : accounts) {
            List<String> order = orderByAccount.get(account);
            assertThat(order).as(account).hasSizeGreaterThanOrEqualTo(3);
            targets.add(order.get(0));
            parked.put(account, order.subList(1, order.size()));
        }
        int parkedCount = parked.values().stream().mapToInt(List::size).sum();

        GatewaySettings.Builder gateway = GatewaySettings.builder()
                .faults(FaultPolicy.firstRequests("charges", key -> targets.contains(key.replace(":charge", "")), 1, Fault.TRANSIENT));
        try (PaymentsRun run = new PaymentsRun(SANDBOX.kafka(), SANDBOX.postgres(), SANDBOX.dir(), gateway, 60, seed)) {
            assertThat(run.plan.validIds()).containsAll(targets);
            run.start(PaymentsWorkflow.create(run.gateway.url()), conf -> {
                conf.set(StagewiseOptions.RETRY_ATTEMPTS, 1);
                conf.set(StagewiseOptions.RETRY_TOPICS, 2);
                conf.set(StagewiseOptions.RETRY_TOPICS_INITIAL_DELAY, Duration.ofMinutes(10));
                conf.set(StagewiseOptions.ORDERING, StagewiseOptions.Ordering.PER_KEY);
            });
            run.produce(0);

            String step1 = RetryLadder.topic(run.input, 1);
            int completed = run.plan.validIds().size() - targets.size() - parkedCount;
            await("everything but the two accounts completes, their first payments wait in " + step1)
                    .atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(500))
                    .until(() -> run.read(step1).size() == targets.size()
                            && run.read(run.topics.output()).size() == completed);
            Map<String, Long> dueAt = new HashMap<>();
            for (ConsumerRecord<byte[], byte[]> retry : run.read(step1)) {
                dueAt.put(header(retry, StagewiseHeaders.EVENT_ID), Long.parseLong(header(retry, StagewiseHeaders.RETRY_DUE_AT)));
            }
            assertThat(dueAt.keySet()).isEqualTo(targets);

            String savepoint = run.job.triggerSavepoint(SANDBOX.dir().resolve("savepoints-" + run.input).toUri().toString(),
                    SavepointFormatType.CANONICAL).get(60, TimeUnit.SECONDS);
            SavepointInspection inspection = SavepointInspection.read(savepoint);

            assertThat(inspection.dedupByStatus()).containsEntry("COMPLETED", (long) completed)
                    .containsEntry("IN_PROGRESS", (long) (targets.size() + parkedCount))
                    .doesNotContainKey("DEAD_LETTERED");
            String entries = inspection.entries().stream().map(e -> e.kind + ":" + e.key + ":" + e.eventId + ":" + e.step + ":" + e.phase).sorted().toList().toString();
            assertThat(inspection.parkedByKey()).as("later payments of each account, in input order " + entries).isEqualTo(new TreeMap<>(parked));
            assertThat(inspection.waitingInStep(1)).as("the retry records written and not yet admitted, with their due times " + entries)
                    .isEqualTo(new TreeMap<>(dueAt));
            assertThat(inspection.waitingInStep(2)).isEmpty();
            assertThat(inspection.parkedByKey()).as("later payments of each account, in input order").isEqualTo(new TreeMap<>(parked));
            assertThat(inspection.inPhase("IN_FLIGHT")).isEmpty();
            assertThat(inspection.inPhase("BACKOFF")).isEmpty();

            ObjectNode json = inspection.toJson();
            assertThat(json.path("retrySteps").path("1")).hasSize(targets.size());
            assertThat(json.path("retrySteps").path("1").get(0).path("stage").asText()).isEqualTo(PaymentsWorkflow.CHARGE);
            assertThat(json.path("dedup").path("COMPLETED").asLong()).isEqualTo(completed);
            assertThat(json.path("oldestAgeMillis").path("retry").asLong()).isPositive();
            assertThat(json.path("oldestAgeMillis").path("parked").asLong()).isPositive();
            assertThat(inspection.render()).contains("step 1: 2 waiting").contains("COMPLETED      " + completed);

            String target = targets.iterator().next();
            ObjectNode record = inspection.event(target).orElseThrow();
            assertThat(SavepointInspection.read(savepoint, target).event(target)).as("--id reads the same record").contains(record);
            assertThat(record.path("status").asText()).isEqualTo("IN_PROGRESS");
            assertThat(record.path("completedStages").has(PaymentsWorkflow.VALIDATE)).as(record.toPrettyString()).isTrue();
            assertThat(record.path("completedStages").has(PaymentsWorkflow.CHARGE)).isFalse();
            assertThat(record.path("attempts").asInt()).as(record.toPrettyString()).isEqualTo(1);
            assertThat(record.path("keyGeneration").asInt()).isEqualTo(1);
            JsonNode waits = record.path("waits");
            assertThat(waits.findValuesAsText("in")).contains("RETRY_STEP", "RUNNING_FOR_KEY");
            assertThat(waits.findValues("dueAt").get(0).asLong()).isEqualTo(dueAt.get(target));

            // A retained checkpoint (RocksDB's native, incremental format) reads the same. Cancelled
            // first: a running job deletes the shared files of the checkpoints it subsumes.
            long after = run.rest.latestCheckpoint().map(c -> c[0]).orElse(0L);
            await("a checkpoint after the savepoint").atMost(Duration.ofSeconds(30))
                    .until(() -> run.rest.latestCheckpoint().map(c -> c[0]).orElse(0L) > after);
            run.job.cancel().get(30, TimeUnit.SECONDS);
            String checkpoint = newestCheckpoint(run.checkpoints());
            assertThat(checkpoint).as("a retained checkpoint in " + run.checkpoints()).isNotNull();
            SavepointInspection fromCheckpoint = SavepointInspection.read(checkpoint);
            assertThat(fromCheckpoint.waitingInStep(1)).isEqualTo(new TreeMap<>(dueAt));
            assertThat(fromCheckpoint.dedupByStatus()).isEqualTo(inspection.dedupByStatus());
        }
    }

    /** The newest {@code chk-N} directory with a {@code _metadata} file, or null. */
    private static String newestCheckpoint(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return null;
        }
        try (Stream<Path> files = Files.walk(dir)) {
            return files.filter(f -> f.getFileName().toString().equals("_metadata"))
                    .map(Path::getParent)
                    .filter(d -> d.getFileName().toString().startsWith("chk-"))
                    .max(Comparator.comparingLong(d -> Long.parseLong(d.getFileName().toString().substring(4))))
                    .map(Path::toString).orElse(null);
        }
    }

    @Test
    void aPathWithoutMetadataIsRefusedWithOneLine() throws IOException {
        Path empty = Files.createDirectories(SANDBOX.dir().resolve("not-a-savepoint"));
        assertThatThrownBy(() -> SavepointInspection.read(empty.toString()))
                .isInstanceOf(SavepointInspection.NotASavepointException.class)
                .hasMessage(empty + " is not a savepoint or checkpoint (no _metadata file)");
        assertThatThrownBy(() -> SavepointInspection.read(empty.resolve("absent").toString()))
                .isInstanceOf(SavepointInspection.NotASavepointException.class)
                .hasMessageContaining("does not exist");
    }
}
