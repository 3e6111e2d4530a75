package io.stagewise.jobs;

import io.stagewise.testkit.Sandbox;
import static io.stagewise.jobs.PaymentsRun.header;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.stagewise.jobs.audit.AuditReport;
import io.stagewise.gateway.Fault;
import io.stagewise.gateway.FaultPolicy;
import io.stagewise.gateway.GatewaySettings;
import io.stagewise.testkit.PaymentGenerator;
import io.stagewise.jobs.payments.PaymentsWorkflow;
import io.stagewise.operators.event.StagewiseHeaders;
import io.stagewise.operators.retry.RetryLadder;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.apache.flink.configuration.Configuration;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The retry ladder with durable delays: real broker, real gateway with scripted faults, real
 * PostgreSQL ledger, Flink mini cluster. One in-operator attempt per step, so each failure moves a
 * step; delays 1 s, 2 s, 4 s.
 */
class RetryLadderITCase {
    private static final ObjectMapper JSON = new ObjectMapper();

    @RegisterExtension
    static final Sandbox SANDBOX = new Sandbox();

    private static Consumer<Configuration> ladder(Duration initialDelay) {
        return conf -> {
            conf.set(StagewiseOptions.RETRY_ATTEMPTS, 1);
            conf.set(StagewiseOptions.RETRY_TOPICS, 3);
            conf.set(StagewiseOptions.RETRY_TOPICS_INITIAL_DELAY, initialDelay);
            conf.set(StagewiseOptions.RETRY_TOPICS_MULTIPLIER, 2.0);
        };
    }

    private static List<ConsumerRecord<byte[], byte[]>> recordsOf(PaymentsRun run, String topic, String eventId) {
        return run.read(topic).stream().filter(r -> eventId.equals(header(r, StagewiseHeaders.EVENT_ID))).toList();
    }

    private static long longHeader(ConsumerRecord<byte[], byte[]> record, String name) {
        return Long.parseLong(header(record, name));
    }

    @Test
    void anEventThatFailsTwiceClimbsTwoStepsThenCompletesNeverBeforeItsDueTimes() throws Exception {
        String target = "pay-201-0000003";
        GatewaySettings.Builder gateway = GatewaySettings.builder()
                .faults(FaultPolicy.firstRequests("charges", key -> key.equals(target + ":charge"), 2, Fault.TRANSIENT));
        try (PaymentsRun run = new PaymentsRun(SANDBOX.kafka(), SANDBOX.postgres(), SANDBOX.dir(), gateway, 40, 201)) {
            assertThat(run.plan.validIds()).contains(target);
            run.start(PaymentsWorkflow.create(run.gateway.url()), ladder(Duration.ofSeconds(1)));
            run.produce(0);
            AuditReport report = run.settle();
            assertThat(report.passed()).as(report.render()).isTrue();

            List<ConsumerRecord<byte[], byte[]>> step1 = recordsOf(run, RetryLadder.topic(run.input, 1), target);
            List<ConsumerRecord<byte[], byte[]>> step2 = recordsOf(run, RetryLadder.topic(run.input, 2), target);
            assertThat(step1).hasSize(1);
            assertThat(step2).hasSize(1);
            assertThat(recordsOf(run, RetryLadder.topic(run.input, 3), target)).isEmpty();
            assertThat(run.read(RetryLadder.topic(run.input, 1))).as("only the failing event climbs").hasSize(1);

            // Never earlier than its due times: the second failure came after step 1's due time,
            // and completion after step 2's.
            assertThat(longHeader(step2.get(0), StagewiseHeaders.FAILURE_AT))
                    .isGreaterThanOrEqualTo(longHeader(step1.get(0), StagewiseHeaders.RETRY_DUE_AT));
            assertThat(longHeader(step2.get(0), StagewiseHeaders.RETRY_DUE_AT) - longHeader(step2.get(0), StagewiseHeaders.FAILURE_AT))
                    .isEqualTo(2_000);
            ConsumerRecord<byte[], byte[]> done = recordsOf(run, run.topics.output(), target).get(0);
            assertThat(JSON.readTree(done.value()).path("completedAt").asLong())
                    .isGreaterThanOrEqualTo(longHeader(step2.get(0), StagewiseHeaders.RETRY_DUE_AT));

            // The origin survives the ladder; the retry count covers every tier.
            assertThat(header(step2.get(0), StagewiseHeaders.ORIGIN_TOPIC)).isEqualTo(run.input);
            assertThat(header(step2.get(0), StagewiseHeaders.ORIGIN_OFFSET)).isEqualTo(header(step1.get(0), StagewiseHeaders.ORIGIN_OFFSET));
            assertThat(header(step2.get(0), StagewiseHeaders.RETRY_COUNT)).isEqualTo("2");
            assertThat(run.gateway.requestCounts("charges").get(target + ":charge")).isEqualTo(3);
            assertThat(run.gateway.effectiveCharges().get(target)).isEqualTo(1);
            assertThat(report.count("completed")).isEqualTo(run.plan.validIds().size());
        }
    }

    @Test
    void anEventThatNeverSucceedsLeavesTheLastStepForTheDlqWithEveryHeader() throws Exception {
        String target = "pay-202-0000005";
        GatewaySettings.Builder gateway = GatewaySettings.builder()
                .faults(FaultPolicy.firstRequests("charges", key -> key.equals(target + ":charge"), 100, Fault.TRANSIENT));
        try (PaymentsRun run = new PaymentsRun(SANDBOX.kafka(), SANDBOX.postgres(), SANDBOX.dir(), gateway, 40, 202)) {
            run.start(PaymentsWorkflow.create(run.gateway.url()), ladder(Duration.ofMillis(500)));
            run.produce(0);
            AuditReport report = run.settle();
            assertThat(report.passed()).as(report.render()).isTrue();

            List<ConsumerRecord<byte[], byte[]>> letters = run.deadLetters();
            assertThat(letters).hasSize(1);
            ConsumerRecord<byte[], byte[]> letter = letters.get(0);
            for (String name : StagewiseHeaders.DEAD_LETTER_HEADERS) {
                assertThat(header(letter, name)).as(name).isNotNull();
            }
            assertThat(header(letter, StagewiseHeaders.EVENT_ID)).isEqualTo(target);
            assertThat(header(letter, StagewiseHeaders.FAILURE_REASON)).isEqualTo("exhausted");
            assertThat(header(letter, StagewiseHeaders.FAILURE_STAGE)).isEqualTo("charge");
            assertThat(header(letter, StagewiseHeaders.RETRY_COUNT)).isEqualTo("4");
            assertThat(header(letter, StagewiseHeaders.RETRY_DUE_AT)).as("dead letters carry no due time").isNull();
            ConsumerRecord<byte[], byte[]> original = run.read(run.input).stream()
                    .filter(r -> new String(r.value()).contains("\"" + target + "\"")).findFirst().orElseThrow();
            assertThat(header(letter, StagewiseHeaders.ORIGIN_TOPIC)).isEqualTo(original.topic());
            assertThat(header(letter, StagewiseHeaders.ORIGIN_PARTITION)).isEqualTo(Integer.toString(original.partition()));
            assertThat(header(letter, StagewiseHeaders.ORIGIN_OFFSET)).isEqualTo(Long.toString(original.offset()));
            assertThat(header(letter, StagewiseHeaders.ORIGIN_TIMESTAMP)).isEqualTo(Long.toString(original.timestamp()));
            assertThat(letter.value()).isEqualTo(original.value());
            for (int step = 1; step <= 3; step++) {
                assertThat(recordsOf(run, RetryLadder.topic(run.input, step), target)).as("step " + step).hasSize(1);
            }
            assertThat(run.gateway.effectiveCharges()).doesNotContainKey(target);
        }
    }

    @Test
    void perKeyOrderingCompletesTheLaterEventsOfAFailingKeyAfterItInOrderAndHoldsNoOtherKey() throws Exception {
        String account = "acct-4";
        PaymentGenerator.Plan plan = PaymentGenerator.plan(new PaymentGenerator.Settings(60, 0.05, 0.0, 204, 10));
        List<String> keyOrder = plan.records().stream()
                .filter(r -> r.key() != null && new String(r.key()).equals(account))
                .map(r -> idOf(r.value())).distinct().toList();
        assertThat(keyOrder.size()).isGreaterThanOrEqualTo(4);
        String target = keyOrder.get(0);
        GatewaySettings.Builder gateway = GatewaySettings.builder()
                .faults(FaultPolicy.firstRequests("charges", key -> key.equals(target + ":charge"), 1, Fault.TRANSIENT));
        try (PaymentsRun run = new PaymentsRun(SANDBOX.kafka(), SANDBOX.postgres(), SANDBOX.dir(), gateway, 60, 204)) {
            // The retry waits 30 s: every other key's payments complete long before it, however loaded the
            // machine, unless they wait for it (a 3 s wait was shorter than 59 payments take at load 40).
            run.start(PaymentsWorkflow.create(run.gateway.url()), ladder(Duration.ofSeconds(30))
                    .andThen(conf -> conf.set(StagewiseOptions.ORDERING, StagewiseOptions.Ordering.PER_KEY)));
            run.produce(0);
            AuditReport report = run.settle();
            assertThat(report.passed()).as(report.render()).isTrue();
            assertThat(recordsOf(run, RetryLadder.topic(run.input, 1), target)).hasSize(1);

            List<ConsumerRecord<byte[], byte[]>> outputs = run.read(run.topics.output());
            List<String> completedForKey = outputs.stream()
                    .filter(r -> new String(r.key()).equals(account))
                    .sorted(Comparator.comparingLong(ConsumerRecord::offset))
                    .map(r -> header(r, StagewiseHeaders.EVENT_ID)).toList();
            assertThat(completedForKey).as("the key's events complete in input order, the failing one first")
                    .containsExactlyElementsOf(keyOrder);
            long targetDone = completedAt(outputs, target);
            List<String> heldOtherKeys = outputs.stream()
                    .filter(r -> !new String(r.key()).equals(account))
                    .filter(r -> completedAt(r) > targetDone)
                    .map(r -> header(r, StagewiseHeaders.EVENT_ID)).toList();
            assertThat(heldOtherKeys).as("no other key waited for the retry").isEmpty();
        }
    }

    private static String idOf(byte[] value) {
        try {
            return JSON.readTree(value).path("id").asText();
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static long completedAt(ConsumerRecord<byte[], byte[]> record) {
        try {
            return JSON.readTree(record.value()).path("completedAt").asLong();
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static long completedAt(List<ConsumerRecord<byte[], byte[]>> outputs, String id) {
        return outputs.stream().filter(r -> id.equals(header(r, StagewiseHeaders.EVENT_ID))).findFirst()
                .map(RetryLadderITCase::completedAt).orElseThrow();
    }

    @Test
    void aRestoreWhileRetryRecordsWaitLosesNoneAndDuplicatesNone() throws Exception {
        GatewaySettings.Builder gateway = GatewaySettings.builder()
                .faults(FaultPolicy.firstRequests("charges", key -> key.endsWith("0:charge"), 1, Fault.TRANSIENT));
        try (PaymentsRun run = new PaymentsRun(SANDBOX.kafka(), SANDBOX.postgres(), SANDBOX.dir(), gateway, 100, 203)) {
            run.start(PaymentsWorkflow.create(run.gateway.url()), ladder(Duration.ofSeconds(4)));
            run.produce(0);
            String retryTopic = RetryLadder.topic(run.input, 1);
            long failing = run.plan.validIds().stream().filter(id -> id.endsWith("0")).count();
            await("every tenth payment waits on " + retryTopic).atMost(Duration.ofSeconds(60))
                    .until(() -> run.read(retryTopic).size() >= failing);
            long checkpoint = run.rest.latestCheckpoint().map(c -> c[0]).orElse(0L);
            await("a checkpoint with the retry records waiting in state").atMost(Duration.ofSeconds(30))
                    .until(() -> run.rest.latestCheckpoint().map(c -> c[0]).orElse(0L) > checkpoint);

            run.restartFromLatestCheckpoint();
            AuditReport report = run.settle();

            assertThat(report.passed()).as(report.render()).isTrue();
            assertThat(report.count("completed")).isEqualTo(run.plan.validIds().size());
            assertThat(report.count("ledgerRows")).isEqualTo(run.plan.validIds().size());
            assertThat(run.read(retryTopic)).hasSize((int) failing);
            Map<String, Integer> charges = run.gateway.effectiveCharges();
            assertThat(charges.values()).containsOnly(1);
            assertThat(run.deadLetters()).isEmpty();
        }
    }
}
