package io.stagewise.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.stagewise.gateway.Fault;
import io.stagewise.gateway.FaultPolicy;
import io.stagewise.gateway.GatewaySettings;
import io.stagewise.jobs.audit.AuditReport;
import io.stagewise.jobs.payments.PaymentsWorkflow;
import io.stagewise.operators.event.StagewiseHeaders;
import io.stagewise.operators.stage.BatchSettings;
import io.stagewise.testkit.Sandbox;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The payments workflow with {@code notify} batched through the real gateway's
 * {@code POST /notifications/batch} (keys in a real PostgreSQL), on a real broker and Flink mini
 * cluster: per-item failure classes, a restore with batches in flight, per-key ordering, and the
 * size controller following the gateway's latency. Every test ends with the audit and "one
 * effective notification per completed payment".
 */
class BatchingITCase {
    @RegisterExtension
    static final Sandbox SANDBOX = new Sandbox();

    private static final ObjectMapper JSON = new ObjectMapper();

    private static void assertNotifiedOncePerCompletedPayment(PaymentsRun run, AuditReport report) {
        assertThat(report.passed()).as(report.render()).isTrue();
        Map<String, Integer> notifications = run.gateway.effectiveNotifications();
        assertThat(notifications.values()).as("one effective notification per payment").containsOnly(1);
        assertThat((long) notifications.size()).isEqualTo(report.count("completed"));
        assertThat(run.gateway.requestCounts("notifications").keySet()).allMatch(key -> key.endsWith(":notify"));
    }

    @Test
    void eachItemOfABatchFollowsItsOwnFailureClass() throws Exception {
        // Transient 503 for the items of payments ending in 1, a lost batch response whenever a batch
        // holds a payment ending in 2 (every item of it executed: the retry replays), declines at charge.
        GatewaySettings.Builder gateway = GatewaySettings.builder()
                .declineAccounts(Set.of("acct-3"))
                .faults(FaultPolicy.firstRequests("notifications", key -> key.endsWith("1:notify"), 1, Fault.TRANSIENT)
                        .orElse(FaultPolicy.firstRequests("notifications", key -> key.endsWith("2:notify"), 1,
                                Fault.TIMEOUT)));
        try (PaymentsRun run = new PaymentsRun(SANDBOX.kafka(), SANDBOX.postgres(), SANDBOX.dir(), gateway, 300, 301)) {
            run.start(PaymentsWorkflow.create(run.gateway.url(), new BatchSettings(Duration.ofMillis(10), 1, 50,
                    Duration.ofMillis(500))), conf -> { });
            run.produce(0);
            AuditReport report = run.settle();
            assertNotifiedOncePerCompletedPayment(run, report);

            List<ConsumerRecord<byte[], byte[]>> letters = run.deadLetters();
            assertThat(letters).isNotEmpty().allSatisfy(letter -> {
                assertThat(PaymentsRun.header(letter, StagewiseHeaders.FAILURE_REASON)).isEqualTo("permanent");
                assertThat(PaymentsRun.header(letter, StagewiseHeaders.FAILURE_STAGE)).isEqualTo("charge");
            });
            Map<String, Integer> requests = run.gateway.requestCounts("notifications");
            assertThat(requests.entrySet().stream().filter(e -> e.getKey().endsWith("1:notify")))
                    .as("a 503 item is retried with its key").isNotEmpty().allMatch(e -> e.getValue() >= 2);
            assertThat(requests.entrySet().stream().filter(e -> e.getKey().endsWith("2:notify")))
                    .as("a lost batch response is retried with the same keys").isNotEmpty().allMatch(e -> e.getValue() >= 2);
            await("the dashboard's metrics").atMost(Duration.ofSeconds(30))
                    .until(() -> run.rest.stagewiseMetrics().containsKey("stage.notify.batchItems"));
            assertThat(run.rest.stagewiseMetrics()).containsKeys("stage.notify.batchSize", "stage.notify.batchPending",
                    "stage.notify.batchItemsPerSecond", "stage.notify.batchLatencyMs_p95");
            assertThat(run.rest.stagewiseMetrics().get("stage.notify.batchItems"))
                    .as("every completed payment's notify went through a batch, some twice")
                    .isGreaterThanOrEqualTo(report.count("completed"));
        }
    }

    @Test
    void aRestoreWithBatchesInFlightReissuesTheirItemsWithTheSameKeysAndNotifiesOnce() throws Exception {
        // 150 ms per batch: a failure at each source subtask's 100th event, after a checkpoint completed on the
        // idle job, comes mid-stream and finds batches in flight however slowly the machine starts the job.
        GatewaySettings.Builder gateway = GatewaySettings.builder().latency(Duration.ofMillis(150))
                .itemLatency(Duration.ofMillis(2));
        try (PaymentsRun run = new PaymentsRun(SANDBOX.kafka(), SANDBOX.postgres(), SANDBOX.dir(), gateway, 600, 302)) {
            run.start(PaymentsWorkflow.create(run.gateway.url(), BatchSettings.defaults()),
                    conf -> conf.set(StagewiseOptions.INJECT_FAILURE_AFTER, 100L));
            run.awaitFirstCheckpoint();
            CompletableFuture.runAsync(() -> run.produce(100)).get(60, TimeUnit.SECONDS);
            AuditReport report = run.settle();

            await("the injected failure restarted the job").atMost(Duration.ofSeconds(30))
                    .until(() -> run.rest.restarts() >= 1);
            assertNotifiedOncePerCompletedPayment(run, report);
            assertThat(report.count("completed")).isEqualTo(run.plan.validIds().size());
            Map<String, Integer> notifications = run.gateway.requestCounts("notifications");
            assertThat(notifications.keySet()).as("one key per payment, never a new generation")
                    .allMatch(key -> key.matches("pay-302-\\d{7}:notify"));
            assertThat(notifications.values()).as("items of batches in flight were issued again after the restore")
                    .anyMatch(n -> n > 1);
        }
    }

    @Test
    void perKeyOrderingHoldsWithBatchingOn() throws Exception {
        try (PaymentsRun run = new PaymentsRun(SANDBOX.kafka(), SANDBOX.postgres(), SANDBOX.dir(),
                GatewaySettings.builder().latency(Duration.ofMillis(20)), 200, 303)) {
            run.start(PaymentsWorkflow.create(run.gateway.url(), BatchSettings.defaults()),
                    conf -> conf.set(StagewiseOptions.ORDERING, StagewiseOptions.Ordering.PER_KEY));
            run.produce(0);
            AuditReport report = run.settle();
            assertNotifiedOncePerCompletedPayment(run, report);

            Map<String, List<String>> inputOrder = run.plan.records().stream().filter(r -> r.key() != null)
                    .collect(Collectors.groupingBy(r -> new String(r.key()),
                            Collectors.mapping(r -> idOf(r.value()), Collectors.toList())));
            List<ConsumerRecord<byte[], byte[]>> outputs = run.read(run.topics.output());
            for (Map.Entry<String, List<String>> key : inputOrder.entrySet()) {
                List<String> completed = outputs.stream().filter(r -> new String(r.key()).equals(key.getKey()))
                        .sorted(Comparator.comparingLong(ConsumerRecord::offset))
                        .map(r -> PaymentsRun.header(r, StagewiseHeaders.EVENT_ID)).toList();
                assertThat(completed).as("key " + key.getKey() + " completes in input order")
                        .containsExactlyElementsOf(key.getValue().stream().distinct()
                                .filter(run.plan.validIds()::contains).toList());
            }
        }
    }

    @Test
    void theBatchSizeFollowsTheGatewaysPerItemLatencyDownAndBackUp() throws Exception {
        GatewaySettings.Builder gateway = GatewaySettings.builder().itemLatency(Duration.ofMillis(5)).control(true);
        try (PaymentsRun run = new PaymentsRun(SANDBOX.kafka(), SANDBOX.postgres(), SANDBOX.dir(), gateway, 8000, 304)) {
            run.start(PaymentsWorkflow.create(run.gateway.url(), new BatchSettings(Duration.ofMillis(10), 1, 100,
                    Duration.ofMillis(500))), conf -> conf.set(StagewiseOptions.MAX_IN_FLIGHT, 300));
            run.produce(0);
            // Two subtasks: the sums of their sizes. 5 ms per item meets 500 ms up to ~90 items.
            await("5 ms per item: the size grows with the backlog").atMost(Duration.ofSeconds(60))
                    .pollInterval(Duration.ofMillis(500)).until(() -> batchSizes(run) >= 20);
            control(run, "{\"item_latency_ms\":100}");
            await("100 ms per item: the size falls to what meets the target (at most 5 per subtask)")
                    .atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200)).until(() -> batchSizes(run) <= 10);
            control(run, "{\"item_latency_ms\":5}");
            await("5 ms per item again: the size grows back").atMost(Duration.ofSeconds(60))
                    .pollInterval(Duration.ofMillis(500)).until(() -> batchSizes(run) >= 20);
            control(run, "{\"item_latency_ms\":0}");
            AuditReport report = run.settle();
            assertNotifiedOncePerCompletedPayment(run, report);
            assertThat(report.count("completed")).isEqualTo(run.plan.validIds().size());
        }
    }

    private static double batchSizes(PaymentsRun run) {
        return run.rest.stagewiseMetrics().getOrDefault("stage.notify.batchSize", 0.0);
    }

    private static void control(PaymentsRun run, String body) throws Exception {
        HttpResponse<String> response = HttpClient.newHttpClient().send(
                HttpRequest.newBuilder(URI.create(run.gateway.url() + "/control/latency"))
                        .POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    }

    private static String idOf(byte[] value) {
        try {
            return JSON.readTree(value).path("id").asText();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
