package io.stagewise.cli;

import io.stagewise.jobs.Topics;
import io.stagewise.jobs.StagewiseOptions;
import io.stagewise.jobs.PipelineTestSupport;
import io.stagewise.jobs.PipelineJob;
import io.stagewise.jobs.FlinkSettings;
import io.stagewise.testkit.Sandbox;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.stagewise.jobs.audit.Audit;
import io.stagewise.jobs.audit.AuditReport;
import io.stagewise.jobs.audit.TopicReader;
import io.stagewise.gateway.GatewayServer;
import io.stagewise.gateway.GatewaySettings;
import io.stagewise.testkit.PaymentGenerator;
import io.stagewise.jobs.local.FlinkRest;
import io.stagewise.jobs.local.LocalFlink;
import io.stagewise.jobs.payments.PaymentsWorkflow;
import io.stagewise.testkit.FreePorts;
import io.stagewise.operators.event.StagewiseHeaders;
import io.stagewise.operators.ingest.EventParser;
import io.stagewise.operators.stage.Progress;
import io.stagewise.operators.stage.Workflow;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * DLQ replay end to end: the payments pipeline on a Flink mini cluster, the real gateway with keys
 * in a real PostgreSQL, a real broker. Payments of a declined account are dead-lettered (permanent,
 * at {@code charge}); the cause is fixed (a new gateway on the same database and port, without the
 * decline list); {@code stagewise dlq replay --reason permanent} brings every one of them to
 * completion exactly once, without running {@code validate} again and charging with key
 * generation 2; replaying the same selection again changes nothing.
 */
class ReplayITCase {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String DECLINED = "acct-3";
    /** validate calls per event id, across the whole job (the mini cluster runs in this JVM). */
    private static final Map<String, AtomicInteger> VALIDATIONS = new ConcurrentHashMap<>();

    @RegisterExtension
    static final Sandbox SANDBOX = new Sandbox();

    @Test
    void declinedPaymentsReplayedAfterTheFixCompleteOnceWithKeyGeneration2AndASecondReplayAppliesNothing() throws Exception {
        String bootstrap = SANDBOX.kafka().bootstrapServers();
        Audit.Topics topics = PipelineTestSupport.topics(bootstrap);
        String gatewayDb = SANDBOX.postgres().createDatabase("gateway_replay");
        PaymentGenerator.Plan plan = PaymentGenerator.plan(new PaymentGenerator.Settings(48, 0.0, 0.0, 301, 4));
        Topics.createAll(bootstrap, 2, List.of(topics.input()));

        GatewayServer declining = GatewayServer.start(GatewaySettings.builder().declineAccounts(Set.of(DECLINED)).build(),
                gatewayDb);
        GatewayServer fixed = null;
        JobClient job = null;
        try {
            Configuration conf = FlinkSettings.defaults(Duration.ofMillis(500), SANDBOX.dir().resolve("checkpoints"));
            conf.set(StagewiseOptions.BOOTSTRAP_SERVERS, bootstrap);
            conf.set(StagewiseOptions.INPUT_TOPIC, topics.input());
            conf.set(StagewiseOptions.OUTPUT_TOPIC, topics.output());
            conf.set(StagewiseOptions.RETRY_INITIAL_BACKOFF, Duration.ofMillis(50));
            conf.set(StagewiseOptions.CALL_TIMEOUT, Duration.ofSeconds(10));
            int dlqMax = PipelineJob.prepareTopics(conf);
            int dashboard = FreePorts.pick();
            StreamExecutionEnvironment env = LocalFlink.withDashboard(conf, dashboard);
            env.setParallelism(2);
            PipelineJob.build(env, PipelineJob.Sources.kafka(conf), PipelineJob.Sinks.kafka(conf, dlqMax),
                    countingValidations(PaymentsWorkflow.create(declining.url())), conf);
            job = env.executeAsync("replay");
            FlinkRest rest = new FlinkRest(LocalFlink.dashboardUrl(dashboard), job.getJobID());

            // 1. The declined account's payments are dead-lettered: permanent, at charge, after validate.
            PaymentGenerator.send(plan, bootstrap, topics.input(), 0, n -> { });
            PipelineTestSupport.awaitSettled(topics, plan, Duration.ofSeconds(90));
            List<ConsumerRecord<byte[], byte[]>> letters = read(topics.dlq());
            Set<String> declined = letters.stream().map(r -> header(r, StagewiseHeaders.EVENT_ID)).collect(Collectors.toSet());
            assertThat(declined).hasSize(letters.size()).isNotEmpty();
            assertThat(declined.size()).isLessThan(plan.validIds().size());
            for (ConsumerRecord<byte[], byte[]> letter : letters) {
                assertThat(new String(letter.key(), StandardCharsets.UTF_8)).isEqualTo(DECLINED);
                assertThat(header(letter, StagewiseHeaders.FAILURE_REASON)).isEqualTo("permanent");
                assertThat(header(letter, StagewiseHeaders.FAILURE_STAGE)).isEqualTo("charge");
                assertThat(Progress.parse(header(letter, StagewiseHeaders.PROGRESS)).keyGeneration("charge")).isEqualTo(2);
            }
            assertThat(outputIds()).hasSize(plan.validIds().size() - declined.size()).doesNotContainAnyElementsOf(declined);

            // 2. Fix the cause: the same gateway database and port, without the decline list.
            int port = declining.port();
            declining.close();
            fixed = GatewayServer.start(GatewaySettings.builder().port(port).build(), gatewayDb);

            // 3. Replay the permanent failures.
            CliRun first = CliRun.stagewise("dlq", "replay", "--bootstrap-servers", bootstrap, "--topic", topics.input(),
                    "--reason", "permanent", "--rate", "0", "--json");
            assertThat(first.exitCode()).as(first.err()).isZero();
            assertThat(lastLineJson(first).path("replayed").asInt()).isEqualTo(declined.size());

            await("every replayed payment in the output").atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(250))
                    .until(() -> outputIds().size() >= plan.validIds().size());
            List<ConsumerRecord<byte[], byte[]>> outputs = read(topics.output());
            Map<String, Long> perId = outputs.stream()
                    .collect(Collectors.groupingBy(r -> header(r, StagewiseHeaders.EVENT_ID), Collectors.counting()));
            assertThat(perId.keySet()).isEqualTo(plan.validIds());
            assertThat(perId.values()).as("each payment completes exactly once").containsOnly(1L);

            Map<String, JsonNode> completed = outputs.stream().collect(Collectors.toMap(
                    r -> header(r, StagewiseHeaders.EVENT_ID), ReplayITCase::json));
            Map<String, JsonNode> validateBefore = letters.stream().collect(Collectors.toMap(
                    r -> header(r, StagewiseHeaders.EVENT_ID),
                    r -> Progress.parse(header(r, StagewiseHeaders.PROGRESS)).output("validate")));
            for (String id : declined) {
                assertThat(VALIDATIONS.get(id).get()).as("validate ran once for " + id).isEqualTo(1);
                JsonNode outputsOf = completed.get(id).path("outputs");
                assertThat(outputsOf.path("validate")).as("validate's output carried over from the dead letter")
                        .isEqualTo(validateBefore.get(id));
                assertThat(outputsOf.path("charge").path("charge_id").asText()).startsWith("ch_");
                assertThat(completed.get(id).path("origin").path("topic").asText()).isEqualTo(topics.input());
            }
            Map<String, Integer> chargeRequests = fixed.requestCounts("charges");
            assertThat(chargeRequests).as("only the replays reached the fixed gateway, with key generation 2")
                    .isEqualTo(declined.stream().collect(Collectors.toMap(id -> id + ":charge:2", id -> 1)));
            Map<String, Integer> charges = fixed.effectiveCharges();
            assertThat(charges.keySet()).isEqualTo(plan.validIds());
            assertThat(charges.values()).as("one effective charge per payment").containsOnly(1);

            AuditReport audit = Audit.run(topics, EventParser.DEFAULT_MAX_EVENT_BYTES, Optional.empty(), Optional.of(charges));
            assertThat(audit.passed()).as(audit.render()).isTrue();
            assertThat(audit.count("deadLettersResolvedByReplay")).isEqualTo(declined.size());
            assertThat(audit.count("completed")).isEqualTo(plan.validIds().size());
            await("replays admitted").atMost(Duration.ofSeconds(30))
                    .until(() -> rest.stagewiseMetric("replaysAdmitted") == declined.size());
            long droppedBefore = rest.stagewiseMetric("duplicatesDropped");
            Map<String, Integer> notifyRequests = fixed.requestCounts("notifications");

            // 4. The same selection again: the tool writes the replays, the pipeline drops them all.
            CliRun second = CliRun.stagewise("dlq", "replay", "--bootstrap-servers", bootstrap, "--topic", topics.input(),
                    "--reason", "permanent", "--rate", "0", "--json");
            assertThat(lastLineJson(second).path("replayed").asInt()).isEqualTo(declined.size());
            await("the second replay dropped as completed").atMost(Duration.ofSeconds(30))
                    .until(() -> rest.stagewiseMetric("duplicatesDropped") >= droppedBefore + declined.size());
            long checkpoint = rest.latestCheckpoint().map(c -> c[0]).orElse(0L);
            await("two more checkpoints, so anything emitted meanwhile commits").atMost(Duration.ofSeconds(30))
                    .until(() -> rest.latestCheckpoint().map(c -> c[0]).orElse(0L) >= checkpoint + 2);

            assertThat(read(topics.output())).as("no new output record").hasSize(outputs.size());
            assertThat(fixed.requestCounts("charges")).as("no new charge request").isEqualTo(chargeRequests);
            assertThat(fixed.requestCounts("notifications")).as("no new notification").isEqualTo(notifyRequests);
            assertThat(fixed.effectiveCharges()).isEqualTo(charges);
            assertThat(rest.stagewiseMetric("replaysAdmitted")).isEqualTo(declined.size());
            for (String id : declined) {
                assertThat(VALIDATIONS.get(id).get()).isEqualTo(1);
            }
            AuditReport again = Audit.run(topics, EventParser.DEFAULT_MAX_EVENT_BYTES, Optional.empty(),
                    Optional.of(fixed.effectiveCharges()));
            assertThat(again.passed()).as(again.render()).isTrue();
        } finally {
            if (job != null) {
                job.cancel().get(30, TimeUnit.SECONDS);
            }
            declining.close();
            if (fixed != null) {
                fixed.close();
            }
        }
    }

    /** The payments workflow with validate counted per event id. */
    private static Workflow countingValidations(Workflow payments) {
        return Workflow.named(PaymentsWorkflow.NAME)
                .local(PaymentsWorkflow.VALIDATE, ctx -> {
                    VALIDATIONS.computeIfAbsent(ctx.eventId(), id -> new AtomicInteger()).incrementAndGet();
                    return payments.stage(PaymentsWorkflow.VALIDATE).local().apply(ctx);
                })
                .remote(PaymentsWorkflow.CHARGE, payments.stage(PaymentsWorkflow.CHARGE).remote())
                .remote(PaymentsWorkflow.NOTIFY, payments.stage(PaymentsWorkflow.NOTIFY).remote())
                .build();
    }

    private static Set<String> outputIds() {
        return read(PipelineTestSupport.OUTPUT).stream().map(r -> header(r, StagewiseHeaders.EVENT_ID))
                .collect(Collectors.toSet());
    }

    private static List<ConsumerRecord<byte[], byte[]>> read(String topic) {
        return TopicReader.readAll(SANDBOX.kafka().bootstrapServers(), topic, Duration.ofSeconds(30));
    }

    private static String header(ConsumerRecord<byte[], byte[]> record, String name) {
        return new String(record.headers().lastHeader(name).value(), StandardCharsets.UTF_8);
    }

    private static JsonNode json(ConsumerRecord<byte[], byte[]> record) {
        try {
            return JSON.readTree(record.value());
        } catch (IOException e) {
            throw new AssertionError("output record is not JSON", e);
        }
    }

    private static JsonNode lastLineJson(CliRun result) throws Exception {
        List<String> lines = result.out().lines().collect(Collectors.toList());
        return JSON.readTree(lines.get(lines.size() - 1));
    }

}
