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
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code stagewise savepoint inspect}'s reader against a real savepoint and a real retained
 * checkpoint of the payments pipeline (per-key ordering), taken mid-run with events in every
 * state the stage operator keeps: two accounts' first payments wait in retry step 1 (their charge
 * failed twice, the ladder delay is ten minutes), a third account's first payment waits out an
 * in-operator backoff (its held charge answered 503), a fourth's charge is in flight (held by
 * {@link GatewayGate}), the later payments of those four accounts are parked behind them, a fifth
 * account's payments are declined (dead-lettered); everything else completed. The counts, the
 * parked order, the due times of the ladder records, the timers of the waits and the ages of the
 * dedup records must match what the run put there.
 */
class SavepointInspectionITCase {
    private static final ObjectMapper JSON = new ObjectMapper();
    /**
     * Long enough that the payment in backoff still waits when the savepoint is taken (and read)
     * on a loaded machine; after it, its charge succeeds and the wait for the savepoint fails.
     */
    private static final Duration BACKOFF = Duration.ofSeconds(45);
    private static final Duration CALL_TIMEOUT = Duration.ofMinutes(5);

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
        List<String> laddered = List.of("acct-3", "acct-7");
        String backoffAccount = "acct-1";
        String inFlightAccount = "acct-5";
        String declinedAccount = "acct-9";
        Set<String> targets = new HashSet<>();
        Map<String, List<String>> parked = new HashMap<>();
        for (String account : List.of("acct-3", "acct-7", backoffAccount, inFlightAccount)) {
            List<String> order = orderByAccount.get(account);
            assertThat(order).as(account).hasSizeGreaterThanOrEqualTo(3);
            if (laddered.contains(account)) {
                targets.add(order.get(0));
            }
            parked.put(account, order.subList(1, order.size()));
        }
        String backingOff = orderByAccount.get(backoffAccount).get(0);
        String inFlight = orderByAccount.get(inFlightAccount).get(0);
        List<String> declined = orderByAccount.get(declinedAccount);
        int parkedCount = parked.values().stream().mapToInt(List::size).sum();

        GatewaySettings.Builder gateway = GatewaySettings.builder()
                .declineAccounts(List.of(declinedAccount))
                .faults(FaultPolicy.firstRequests("charges", key -> targets.contains(key.replace(":charge", "")), 2, Fault.TRANSIENT));
        try (PaymentsRun run = new PaymentsRun(SANDBOX.kafka(), SANDBOX.postgres(), SANDBOX.dir(), gateway, 60, seed);
             GatewayGate gate = new GatewayGate(run.gateway.url())) {
            assertThat(run.plan.validIds()).containsAll(targets).contains(backingOff, inFlight).containsAll(declined);
            gate.hold(backingOff + ":charge");
            gate.hold(inFlight + ":charge");
            run.start(PaymentsWorkflow.create(gate.url()), conf -> {
                conf.set(StagewiseOptions.RETRY_ATTEMPTS, 2);
                conf.set(StagewiseOptions.RETRY_INITIAL_BACKOFF, BACKOFF);
                conf.set(StagewiseOptions.RETRY_MAX_BACKOFF, BACKOFF);
                conf.set(StagewiseOptions.CALL_TIMEOUT, CALL_TIMEOUT);
                conf.set(StagewiseOptions.RETRY_TOPICS, 2);
                conf.set(StagewiseOptions.RETRY_TOPICS_INITIAL_DELAY, Duration.ofMinutes(10));
                conf.set(StagewiseOptions.ORDERING, StagewiseOptions.Ordering.PER_KEY);
            });
            long started = System.currentTimeMillis();
            run.produce(0);

            String step1 = RetryLadder.topic(run.input, 1);
            int underWay = targets.size() + 2 + parkedCount;
            int completed = run.plan.validIds().size() - underWay - declined.size();
            await("everything else settles; two first payments wait in " + step1 + ", two charges are held")
                    .atMost(Duration.ofSeconds(180)).pollInterval(Duration.ofMillis(500))
                    .until(() -> run.read(step1).size() == targets.size()
                            && run.read(run.topics.output()).size() == completed
                            && run.deadLetters().size() == declined.size()
                            && gate.arrived(backingOff + ":charge") && gate.arrived(inFlight + ":charge"));
            Map<String, Long> dueAt = new HashMap<>();
            for (ConsumerRecord<byte[], byte[]> retry : run.read(step1)) {
                dueAt.put(header(retry, StagewiseHeaders.EVENT_ID), Long.parseLong(header(retry, StagewiseHeaders.RETRY_DUE_AT)));
            }
            assertThat(dueAt.keySet()).isEqualTo(targets);

            // The held charge fails (503): its payment waits out the in-operator backoff. The
            // operator takes the answer on its own thread, so a savepoint taken right after the
            // release may still see the call in flight: take savepoints until one shows the backoff.
            long releasedAt = System.currentTimeMillis();
            gate.release(backingOff + ":charge", GatewayGate.Release.UNAVAILABLE);
            AtomicReference<String> savepointPath = new AtomicReference<>();
            AtomicReference<SavepointInspection> inspected = new AtomicReference<>();
            await("a savepoint with " + backingOff + " in backoff").atMost(Duration.ofMinutes(2))
                    .pollInterval(Duration.ofMillis(200)).until(() -> {
                        String path = run.job.triggerSavepoint(SANDBOX.dir().resolve("savepoints-" + run.input).toUri().toString(),
                                SavepointFormatType.CANONICAL).get(60, TimeUnit.SECONDS);
                        SavepointInspection read = SavepointInspection.read(path);
                        savepointPath.set(path);
                        inspected.set(read);
                        return read.inPhase("BACKOFF").getOrDefault(PaymentsWorkflow.CHARGE, List.of()).contains(backingOff);
                    });
            String savepoint = savepointPath.get();
            SavepointInspection inspection = inspected.get();
            String entries = inspection.entries().stream().map(e -> e.kind + ":" + e.key + ":" + e.eventId + ":" + e.step + ":" + e.phase)
                    .sorted().toList().toString();

            assertThat(inspection.dedupByStatus()).as(entries).isEqualTo(new TreeMap<>(Map.of(
                    "COMPLETED", (long) completed, "IN_PROGRESS", (long) underWay, "DEAD_LETTERED", (long) declined.size())));
            assertThat(inspection.parkedByKey()).as("later payments of each account, in input order " + entries)
                    .isEqualTo(new TreeMap<>(parked));
            assertThat(inspection.waitingInStep(1)).as("the retry records written and not yet admitted, with their due times " + entries)
                    .isEqualTo(new TreeMap<>(dueAt));
            assertThat(inspection.waitingInStep(2)).isEmpty();
            assertThat(inspection.inPhase("IN_FLIGHT")).as(entries).isEqualTo(new TreeMap<>(Map.of(PaymentsWorkflow.CHARGE, List.of(inFlight))));
            assertThat(inspection.inPhase("BACKOFF")).as(entries).isEqualTo(new TreeMap<>(Map.of(PaymentsWorkflow.CHARGE, List.of(backingOff))));
            assertThat(inspection.inPhase("WAITING")).isEmpty();

            ObjectNode json = inspection.toJson();
            assertThat(json.path("stages").path(PaymentsWorkflow.CHARGE).path("inFlight").asInt()).isEqualTo(1);
            assertThat(json.path("stages").path(PaymentsWorkflow.CHARGE).path("backoff").asInt()).isEqualTo(1);
            assertThat(json.path("retrySteps").path("1")).hasSize(targets.size());
            for (JsonNode wait : json.path("retrySteps").path("1")) {
                assertThat(wait.path("stage").asText()).isEqualTo(PaymentsWorkflow.CHARGE);
                if (wait.path("in").asText().equals("retry topic")) {
                    assertThat(wait.path("watchdogAt").asLong()).as("the ladder watchdog fires after the due time " + wait)
                            .isGreaterThan(wait.path("dueAt").asLong());
                } else {
                    // Read back before its due time: it waits in a timer at the due time itself.
                    assertThat(wait.path("in").asText()).as(wait.toString()).isEqualTo("timer");
                    assertThat(wait.has("watchdogAt")).isFalse();
                }
            }
            Map<String, JsonNode> underWayById = new HashMap<>();
            json.path("underWay").forEach(w -> underWayById.put(w.path("id").asText(), w));
            assertThat(underWayById.keySet()).containsExactlyInAnyOrder(inFlight, backingOff);
            JsonNode call = underWayById.get(inFlight);
            assertThat(call.path("timer").asText()).isEqualTo("callDeadline");
            assertThat(call.path("timerAt").asLong()).as("the call deadline: issued after the start, plus the call timeout " + call)
                    .isGreaterThanOrEqualTo(started + CALL_TIMEOUT.toMillis()).isLessThan(releasedAt + CALL_TIMEOUT.toMillis() + 60_000);
            JsonNode backoff = underWayById.get(backingOff);
            assertThat(backoff.path("timer").asText()).isEqualTo("backoffDue");
            assertThat(backoff.path("tierAttempts").asInt()).isEqualTo(1);
            assertThat(backoff.path("timerAt").asLong()).as("the backoff's due time: the 503, plus the backoff with 20% jitter " + backoff)
                    .isBetween(releasedAt + BACKOFF.toMillis() * 8 / 10, System.currentTimeMillis() + BACKOFF.toMillis() * 12 / 10);
            assertThat(json.path("dedup").path("COMPLETED").asLong()).isEqualTo(completed);
            assertThat(json.path("dedup").path("DEAD_LETTERED").asLong()).isEqualTo(declined.size());
            long inspectedAt = json.path("inspectedAt").asLong();
            for (String status : List.of("COMPLETED", "IN_PROGRESS", "DEAD_LETTERED")) {
                assertThat(json.path("dedupOldestAgeMillis").path(status).asLong())
                        .as("age of the oldest %s record: written after the run started %s", status, json.path("dedupOldestAgeMillis"))
                        .isPositive().isLessThanOrEqualTo(inspectedAt - started);
            }
            assertThat(json.path("dedupOldestAgeMillis").path("IN_PROGRESS").asLong())
                    .as("the oldest IN_PROGRESS record was admitted before everything that completed after it")
                    .isGreaterThanOrEqualTo(inspectedAt - releasedAt);
            assertThat(json.path("oldestAgeMillis").path("retry").asLong()).isPositive();
            assertThat(json.path("oldestAgeMillis").path("parked").asLong()).isPositive();
            assertThat(json.path("oldestAgeMillis").path("inFlight").asLong()).isPositive();
            assertThat(json.path("oldestAgeMillis").path("backoff").asLong()).isPositive();
            assertThat(inspection.render()).contains("step 1: 2 waiting").contains("COMPLETED      " + completed)
                    .contains("DEAD_LETTERED  " + declined.size()).contains("callDeadline").contains("backoffDue");

            String target = targets.iterator().next();
            ObjectNode record = inspection.event(target).orElseThrow();
            assertThat(SavepointInspection.read(savepoint, target).event(target)).as("--id reads the same record").contains(record);
            assertThat(record.path("status").asText()).isEqualTo("IN_PROGRESS");
            assertThat(record.path("completedStages").has(PaymentsWorkflow.VALIDATE)).as(record.toPrettyString()).isTrue();
            assertThat(record.path("completedStages").has(PaymentsWorkflow.CHARGE)).isFalse();
            assertThat(record.path("attempts").asInt()).as(record.toPrettyString()).isEqualTo(2);
            assertThat(record.path("keyGeneration").asInt()).isEqualTo(1);
            JsonNode waits = record.path("waits");
            assertThat(waits.findValuesAsText("in")).contains("RETRY_STEP", "RUNNING_FOR_KEY");
            assertThat(waits.findValues("dueAt").get(0).asLong()).isEqualTo(dueAt.get(target));
            for (String id : List.of(inFlight, backingOff, declined.get(0), parked.get(inFlightAccount).get(0))) {
                assertThat(SavepointInspection.read(savepoint, id).event(id)).as("--id %s reads the same record", id)
                        .isEqualTo(inspection.event(id));
            }
            assertThat(inspection.event(declined.get(0)).orElseThrow().path("status").asText()).isEqualTo("DEAD_LETTERED");
            assertThat(inspection.event(parked.get(inFlightAccount).get(0)).orElseThrow().path("waits").findValuesAsText("in"))
                    .containsExactly("PARKED");

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
