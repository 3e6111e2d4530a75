package io.stagewise.jobs;

import io.stagewise.testkit.Sandbox;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.stagewise.jobs.audit.Audit;
import io.stagewise.jobs.audit.AuditReport;
import io.stagewise.jobs.audit.TopicReader;
import io.stagewise.gateway.Fault;
import io.stagewise.gateway.FaultPolicy;
import io.stagewise.gateway.GatewayServer;
import io.stagewise.gateway.GatewaySettings;
import io.stagewise.testkit.PaymentGenerator;
import io.stagewise.jobs.local.FlinkRest;
import io.stagewise.jobs.local.LocalFlink;
import io.stagewise.jobs.payments.PaymentsLedger;
import io.stagewise.jobs.payments.PaymentsWorkflow;
import io.stagewise.testkit.FreePorts;
import io.stagewise.operators.event.StagewiseHeaders;
import io.stagewise.operators.stage.Progress;
import io.stagewise.operators.stage.RemoteStage;
import io.stagewise.operators.stage.StageContext;
import io.stagewise.operators.stage.Workflow;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The payments workflow (validate → charge → notify) against the real reference gateway over HTTP
 * with idempotency keys in a real PostgreSQL, on a real Kafka broker and Flink mini cluster.
 */
class PaymentsWorkflowITCase {
    @RegisterExtension
    static final Sandbox SANDBOX = new Sandbox();

    private static String header(ConsumerRecord<byte[], byte[]> record, String name) {
        return new String(record.headers().lastHeader(name).value(), StandardCharsets.UTF_8);
    }

    private static void assertAuditHolds(AuditReport report) {
        assertThat(report.passed()).as(report.render()).isTrue();
    }

    @Test
    void whenNotifyFailsAndIsRetriedChargeIsNotCalledAgain() throws Exception {
        GatewaySettings.Builder gateway = GatewaySettings.builder()
                .faults(FaultPolicy.firstRequests("notifications", key -> true, 2, Fault.TRANSIENT));
        try (PaymentsRun run = new PaymentsRun(SANDBOX.kafka(), SANDBOX.postgres(), SANDBOX.dir(), gateway, 200, 101)) {
            run.start(PaymentsWorkflow.create(run.gateway.url()), conf -> { });
            run.produce(0);
            AuditReport report = run.settle();

            assertAuditHolds(report);
            assertThat(run.deadLetters()).extracting(r -> header(r, StagewiseHeaders.FAILURE_MESSAGE)).isEmpty();
            assertThat(report.count("completed")).isEqualTo(run.plan.validIds().size());
            Map<String, Integer> charges = run.gateway.requestCounts("charges");
            Map<String, Integer> notifications = run.gateway.requestCounts("notifications");
            assertThat(charges).hasSize(run.plan.validIds().size());
            assertThat(charges.values()).as("charge called once per payment").containsOnly(1);
            assertThat(notifications.values()).as("notify: two 503s, then success").containsOnly(3);
            assertThat(notifications.keySet()).allMatch(key -> key.endsWith(":notify"));
        }
    }

    @Test
    void anAmbiguousAckMakesExactlyOneEffectiveCharge() throws Exception {
        GatewaySettings.Builder gateway = GatewaySettings.builder()
                .faults(FaultPolicy.firstRequests("charges", key -> true, 1, Fault.TIMEOUT));
        try (PaymentsRun run = new PaymentsRun(SANDBOX.kafka(), SANDBOX.postgres(), SANDBOX.dir(), gateway, 200, 102)) {
            run.start(PaymentsWorkflow.create(run.gateway.url()), conf -> { });
            run.produce(0);
            AuditReport report = run.settle();

            assertAuditHolds(report);
            assertThat(report.count("completed")).isEqualTo(run.plan.validIds().size());
            assertThat(report.count("effectiveCharges")).isEqualTo(run.plan.validIds().size());
            assertThat(run.gateway.requestCounts("charges").values())
                    .as("the lost response is retried with the same key and replayed").containsOnly(2);
            assertThat(run.gateway.effectiveCharges().values()).containsOnly(1);
        }
    }

    @Test
    void aRestoreWithCallsInFlightMakesNoSecondChargeAndRetriesWithTheSameKey() throws Exception {
        GatewaySettings.Builder gateway = GatewaySettings.builder().latency(Duration.ofMillis(150));
        try (PaymentsRun run = new PaymentsRun(SANDBOX.kafka(), SANDBOX.postgres(), SANDBOX.dir(), gateway, 600, 103)) {
            // Every source subtask fails at its 100th event, after a checkpoint completed while the job was
            // idle: mid-stream, with calls in flight, however slowly the machine starts the job. (Failing at
            // the first event after the first checkpoint missed on a loaded machine: the whole input was
            // processed before that checkpoint completed, and nothing failed.)
            run.start(PaymentsWorkflow.create(run.gateway.url()),
                    conf -> conf.set(StagewiseOptions.INJECT_FAILURE_AFTER, 100L));
            run.awaitFirstCheckpoint();
            CompletableFuture<Void> producing = CompletableFuture.runAsync(() -> run.produce(100));
            producing.get(60, TimeUnit.SECONDS);
            AuditReport report = run.settle();

            assertAuditHolds(report);
            assertThat(report.count("ledgerRows")).isEqualTo(run.plan.validIds().size());
            await("the injected failure restarted the job").atMost(Duration.ofSeconds(30))
                    .until(() -> run.rest.restarts() >= 1);
            assertThat(report.count("completed")).isEqualTo(run.plan.validIds().size());
            Map<String, Integer> charges = run.gateway.requestCounts("charges");
            assertThat(charges.keySet()).as("one key per payment, never a new generation")
                    .allMatch(key -> key.matches("pay-103-\\d{7}:charge"));
            assertThat(charges.values()).as("some calls were issued again after the restore").anyMatch(n -> n > 1);
            assertThat(run.gateway.effectiveCharges().values()).containsOnly(1);
        }
    }

    @Test
    void permanentRejectionsAndStageErrorsAreDeadLetteredWithProgressAndTheJobGoesOn() throws Exception {
        GatewaySettings.Builder gateway = GatewaySettings.builder().declineAccounts(Set.of("acct-3"));
        try (PaymentsRun run = new PaymentsRun(SANDBOX.kafka(), SANDBOX.postgres(), SANDBOX.dir(), gateway, 300, 104)) {
            Workflow payments = PaymentsWorkflow.create(run.gateway.url());
            Workflow buggy = Workflow.named("payments")
                    .local("validate", ctx -> {
                        if (ctx.payload().path("account").asText().equals("acct-5")) {
                            throw new IllegalStateException("bug in validate for acct-5");
                        }
                        return payments.stage("validate").local().apply(ctx);
                    })
                    .remote("charge", payments.stage("charge").remote())
                    .remote("notify", payments.stage("notify").remote())
                    .build();
            run.start(buggy, conf -> { });
            run.produce(0);
            AuditReport report = run.settle();
            assertAuditHolds(report);

            List<ConsumerRecord<byte[], byte[]>> letters = run.deadLetters();
            Map<String, List<ConsumerRecord<byte[], byte[]>>> byReason = letters.stream()
                    .collect(Collectors.groupingBy(r -> header(r, StagewiseHeaders.FAILURE_REASON)));
            assertThat(byReason.keySet()).containsExactlyInAnyOrder("permanent", "error");
            for (ConsumerRecord<byte[], byte[]> letter : byReason.get("permanent")) {
                assertThat(new String(letter.key(), StandardCharsets.UTF_8)).isEqualTo("acct-3");
                assertThat(header(letter, StagewiseHeaders.FAILURE_STAGE)).isEqualTo("charge");
                Progress progress = Progress.parse(header(letter, StagewiseHeaders.PROGRESS));
                assertThat(progress.isCompleted("validate")).isTrue();
                assertThat(progress.isCompleted("charge")).isFalse();
                assertThat(progress.keyGeneration("charge")).isEqualTo(2);
                assertThat(header(letter, StagewiseHeaders.FAILURE_MESSAGE)).contains("402").contains("card_declined");
            }
            for (ConsumerRecord<byte[], byte[]> letter : byReason.get("error")) {
                assertThat(new String(letter.key(), StandardCharsets.UTF_8)).isEqualTo("acct-5");
                assertThat(header(letter, StagewiseHeaders.FAILURE_STAGE)).isEqualTo("validate");
                assertThat(header(letter, StagewiseHeaders.FAILURE_CLASS)).isEqualTo(IllegalStateException.class.getName());
            }
            long otherAccounts = run.plan.records().stream().filter(r -> r.key() != null).map(r -> new String(r.key()))
                    .distinct().count();
            assertThat(otherAccounts).isGreaterThan(2);
            assertThat(report.count("completed")).isEqualTo(run.plan.validIds().size() - letters.size());
            assertThat(run.gateway.effectiveCharges().keySet()).as("no charge for declined or failed payments")
                    .hasSize((int) report.count("completed"));
        }
    }

    /** Counts calls outstanding at once around a real remote stage. */
    static final class Counting implements RemoteStage {
        private static final long serialVersionUID = 1L;
        /** Per stage: calls outstanding now, and the most seen at once. */
        static final Map<String, AtomicInteger> OUTSTANDING = new ConcurrentHashMap<>();
        static final Map<String, AtomicInteger> MAX = new ConcurrentHashMap<>();
        private final RemoteStage delegate;

        Counting(RemoteStage delegate) {
            this.delegate = delegate;
        }

        @Override
        public void open() throws Exception {
            delegate.open();
        }

        @Override
        public CompletableFuture<JsonNode> call(StageContext context) {
            AtomicInteger outstanding = OUTSTANDING.computeIfAbsent(context.stage(), s -> new AtomicInteger());
            MAX.computeIfAbsent(context.stage(), s -> new AtomicInteger())
                    .accumulateAndGet(outstanding.incrementAndGet(), Math::max);
            return delegate.call(context).whenComplete((v, e) -> outstanding.decrementAndGet());
        }

        @Override
        public void close() throws Exception {
            delegate.close();
        }
    }

    @Test
    void callsInFlightStayWithinTheLimit() throws Exception {
        GatewaySettings.Builder gateway = GatewaySettings.builder().latency(Duration.ofMillis(100));
        try (PaymentsRun run = new PaymentsRun(SANDBOX.kafka(), SANDBOX.postgres(), SANDBOX.dir(), gateway, 120, 105)) {
            Workflow payments = PaymentsWorkflow.create(run.gateway.url());
            Workflow counted = Workflow.named("payments")
                    .local("validate", payments.stage("validate").local())
                    .remote("charge", new Counting(payments.stage("charge").remote()))
                    .remote("notify", new Counting(payments.stage("notify").remote()))
                    .build();
            run.start(counted, conf -> conf.set(StagewiseOptions.MAX_IN_FLIGHT, 3));
            run.produce(0);
            AuditReport report = run.settle();

            assertAuditHolds(report);
            // The limit is per remote stage: two subtasks, three calls each at most per stage. With 100 ms per
            // call and a backlog, charge reaches it.
            assertThat(Counting.MAX.get("charge").get()).isEqualTo(6);
            assertThat(Counting.MAX.get("notify").get()).isBetween(1, 6);
        }
    }
}
