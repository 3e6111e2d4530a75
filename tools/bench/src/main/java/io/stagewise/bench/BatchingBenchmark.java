package io.stagewise.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.stagewise.gateway.GatewayServer;
import io.stagewise.gateway.GatewaySettings;
import io.stagewise.jobs.StagewiseException;
import io.stagewise.jobs.StagewiseOptions;
import io.stagewise.jobs.Topics;
import io.stagewise.jobs.audit.TopicReader;
import io.stagewise.jobs.payments.PaymentsWorkflow;
import io.stagewise.operators.stage.BatchSettings;
import io.stagewise.operators.stage.StageContext;
import io.stagewise.operators.stage.Workflow;
import io.stagewise.operators.stage.http.HttpBatchCall;
import io.stagewise.testkit.Directories;
import io.stagewise.testkit.EmbeddedKafka;
import io.stagewise.testkit.EmbeddedPostgres;
import io.stagewise.testkit.PaymentGenerator;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.configuration.Configuration;

/**
 * Reactive batching against fixed batch sizes ({@code stagewise bench batching}): a workflow of
 * {@code validate} (local) and a batched {@code notify} against the real gateway's
 * {@code POST /notifications/batch} (idempotency keys in an embedded PostgreSQL, a fresh database
 * per run), one embedded broker, one generated input, each batch configuration under each gateway
 * regime, one run each:
 *
 * <ul>
 *   <li>fast: {@code latency} per batch, {@code fastItem} per item, no capacity limit;
 *   <li>slow: the same per batch, {@code slowItem} per item, so a large batch outlives the call timeout;
 *   <li>saturating: fast, but a capacity of {@code capacity} items/s; a batch that does not fit is
 *       answered 503 (a batch larger than one second's capacity never fits);
 *   <li>step (fast to slow): fast, switched to slow by the gateway itself from the batch that finds half
 *       the payments' worth of items received on (retries count).
 * </ul>
 *
 * <p>Per run: payments notified per second (from the first to the last notification the gateway
 * committed, so job start-up does not count), the retry rate (batch item requests the gateway
 * received beyond the first per payment, over payments; a batch refused over capacity counts, and the
 * part of it refused within a second of the first refusal is shown as the first overload), and
 * the share of payments dead-lettered ({@code exhausted}: the retry topics are off here, so a
 * configuration that keeps failing loses payments to the DLQ). Every run is checked: no payment
 * notified twice.
 */
public final class BatchingBenchmark {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** What to measure; validated on construction. */
    public record Settings(int events, int parallelism, List<String> regimes, List<String> sizes, int maxBatch,
                           Duration latencyTarget,
                           int maxBatchesInFlight, Duration callTimeout, Duration latency, Duration fastItem,
                           Duration slowItem, long capacity, Duration checkpointInterval, long seed, int accounts) {
        public Settings {
            if (events < 10 || parallelism < 1) {
                throw new StagewiseException("--events must be >= 10 and --parallelism >= 1");
            }
            sizes = List.copyOf(sizes);
            regimes = List.copyOf(regimes);
            for (String regime : regimes) {
                if (!REGIMES.contains(regime)) {
                    throw new StagewiseException("--regimes takes " + String.join(", ", REGIMES) + ", got " + regime);
                }
            }
            for (String size : sizes) {
                if (!size.equals("adaptive") && !size.matches("[1-9]\\d{0,3}")) {
                    throw new StagewiseException("--sizes takes fixed sizes (1..9999) and 'adaptive', got " + size);
                }
            }
            if (capacity < 1) {
                throw new StagewiseException("--capacity must be >= 1 items/s, got " + capacity);
            }
        }
    }

    /** The gateway regimes, as {@code --regimes} names them. */
    public static final List<String> REGIMES = List.of("fast", "slow", "saturating", "step");

    private record Regime(String name, Duration item, long capacity, Duration stepTo) {}

    /**
     * @param firstOverloadRate item requests refused over capacity within a second of the first
     *     refusal, over payments: the part of the retry rate a run pays once, whatever its length
     */
    private record Result(double perSecond, double retryRate, double firstOverloadRate, double deadLetteredShare,
                          double batchMedianMillis, double seconds) {}

    private final Settings settings;
    private final PrintStream out;
    private int runs;

    private BatchingBenchmark(Settings settings, PrintStream out) {
        this.settings = settings;
        this.out = out;
    }

    public static void run(Settings settings, PrintStream out) throws Exception {
        new BatchingBenchmark(settings, out).run();
    }

    /** {@code validate}, then {@code notify} batched to the gateway, with no charge before it. */
    static Workflow workflow(String gatewayUrl, BatchSettings batching) {
        return Workflow.named("bench-batching")
                .local(PaymentsWorkflow.VALIDATE, PaymentsWorkflow::validate)
                .batched(PaymentsWorkflow.NOTIFY, new HttpBatchCall(gatewayUrl + "/notifications/batch",
                        BatchingBenchmark::notifyRequest), batching)
                .build();
    }

    static JsonNode notifyRequest(StageContext ctx) {
        return JSON.createObjectNode()
                .put("payment_id", ctx.eventId())
                .put("account", ctx.output(PaymentsWorkflow.VALIDATE).path("account").asText())
                .put("charge_id", "ch_bench");
    }

    private BatchSettings batching(String size) {
        int min = size.equals("adaptive") ? 1 : Integer.parseInt(size);
        int max = size.equals("adaptive") ? settings.maxBatch() : min;
        return new BatchSettings(BatchSettings.DEFAULT_LINGER, min, max, settings.latencyTarget(),
                settings.maxBatchesInFlight());
    }

    private void run() throws Exception {
        String noDelay = StageBenchmark.gatewayNoDelay();
        List<Regime> regimes = List.of(
                new Regime("fast", settings.fastItem(), 0, null),
                new Regime("slow", settings.slowItem(), 0, null),
                new Regime("saturating", settings.fastItem(), settings.capacity(), null),
                new Regime("step", settings.fastItem(), 0, settings.slowItem()))
                .stream().filter(regime -> settings.regimes().contains(regime.name())).toList();
        Path dir = Files.createTempDirectory("stagewise-bench-batching-");
        try (EmbeddedKafka kafka = EmbeddedKafka.start(dir.resolve("kafka"));
                EmbeddedPostgres postgres = EmbeddedPostgres.start(dir.resolve("postgres"))) {
            String bootstrap = kafka.bootstrapServers();
            String input = "bench.batching";
            Topics.createAll(bootstrap, settings.parallelism(), List.of(input));
            PaymentGenerator.Plan plan = PaymentGenerator.plan(new PaymentGenerator.Settings(settings.events(), 0, 0,
                    settings.seed(), settings.accounts()));
            PaymentGenerator.send(plan, bootstrap, input, 0, n -> { });
            int payments = plan.validIds().size();
            out.printf("Gateway sockets: %s=%s; %,d payments in %s; per batch %d ms + per item: fast %s, slow %s; "
                            + "saturating capacity %,d items/s%n", GatewayServer.NO_DELAY_PROPERTY, noDelay, payments, input,
                    settings.latency().toMillis(), settings.fastItem(), settings.slowItem(), settings.capacity());
            PipelineBenchmark bench = new PipelineBenchmark(bootstrap, input, settings.parallelism(),
                    settings.checkpointInterval(), dir.resolve("checkpoints"));
            Map<String, Map<String, Result>> results = new LinkedHashMap<>();
            for (Regime regime : regimes) {
                for (String size : settings.sizes()) {
                    Result r = measure(bench, postgres, bootstrap, input, payments, regime, size);
                    results.computeIfAbsent(regime.name(), k -> new LinkedHashMap<>()).put(size, r);
                    out.printf("%-16s size %-9s %,8.0f payments/s  retries %6.2f%% (first overload %.2f%%)  "
                                    + "dead-lettered %6.2f%%  batch median %,.0f ms  (%.1f s)%n", regime.name(), size,
                            r.perSecond(), 100 * r.retryRate(), 100 * r.firstOverloadRate(), 100 * r.deadLetteredShare(),
                            r.batchMedianMillis(), r.seconds());
                    out.flush();
                }
            }
            report(results);
        } finally {
            Directories.deleteRecursively(dir);
        }
    }

    private Result measure(PipelineBenchmark bench, EmbeddedPostgres postgres, String bootstrap, String input, int payments,
                           Regime regime, String size) throws Exception {
        String database = postgres.createDatabase("bench_batching_" + (++runs));
        GatewaySettings gatewaySettings = GatewaySettings.builder().latency(settings.latency())
                .itemLatency(regime.item()).capacityPerSecond(regime.capacity()).build();
        try (GatewayServer gateway = GatewayServer.start(gatewaySettings, database)) {
            Configuration options = new Configuration();
            options.set(StagewiseOptions.BOUNDED, true);
            // Item slots for every batch slot and the next batch; the stage takes in only what its
            // current size and window carry (BatchingStage.maxCallsNow), the rest waits in the source.
            BatchSettings batching = batching(size);
            options.set(StagewiseOptions.MAX_IN_FLIGHT, batching.maxBatch() * (settings.maxBatchesInFlight() + 1));
            options.set(StagewiseOptions.RETRY_TOPICS, 0);
            options.set(StagewiseOptions.CALL_TIMEOUT, settings.callTimeout());
            PipelineBenchmark.Job job = bench.pipelineJob(input, workflow(gateway.url(), batching),
                    settings.parallelism(), options);
            // The job's topics exist now (the DLQ is created with the first run's).
            int deadLettersBefore = TopicReader.readAll(bootstrap, Topics.dlq(input), Duration.ofSeconds(30)).size();
            if (regime.stepTo() != null) {
                // At the gateway, by items received: a batch already on its way when a clock or a count of
                // notified payments said "half" would still run fast, and a large fixed size would skip the step.
                gateway.stepItemLatencyAfter(payments / 2, regime.stepTo());
            }
            long started = System.nanoTime();
            job.env().execute(job.name());
            double seconds = (System.nanoTime() - started) / 1e9;
            Map<String, Integer> notified = gateway.effectiveNotifications();
            if (notified.values().stream().anyMatch(n -> n != 1)) {
                throw new StagewiseException(job.name() + ": a payment was notified twice; see the log");
            }
            long requests = gateway.requestCounts("notifications").values().stream().mapToLong(Integer::longValue).sum();
            double window = notificationWindowSeconds(database);
            int deadLettered = TopicReader.readAll(bootstrap, Topics.dlq(input), Duration.ofSeconds(30)).size()
                    - deadLettersBefore;
            return new Result(window > 0 ? notified.size() / window : 0, (requests - payments) / (double) payments,
                    gateway.firstOverloadRefusedItems() / (double) payments, deadLettered / (double) payments,
                    gateway.batchMedianMillis(), seconds);
        }
    }

    private static double notificationWindowSeconds(String database) throws SQLException {
        try (Connection c = DriverManager.getConnection(database); Statement s = c.createStatement();
                ResultSet rs = s.executeQuery("SELECT extract(epoch FROM max(created_at) - min(created_at))"
                        + " FROM gateway_notifications")) {
            rs.next();
            return rs.getDouble(1);
        }
    }

    private void report(Map<String, Map<String, Result>> results) {
        out.printf("%npayments/s (retry rate) per regime; one run each, parallelism %d, at most %d batches in flight per "
                        + "subtask, call timeout %d ms, latency target %d ms, adaptive 1..%d%n", settings.parallelism(),
                settings.maxBatchesInFlight(), settings.callTimeout().toMillis(), settings.latencyTarget().toMillis(),
                settings.maxBatch());
        StringBuilder header = new StringBuilder(String.format("| %-16s |", "regime"));
        for (String size : settings.sizes()) {
            header.append(String.format(" %-18s |", size.equals("adaptive") ? "adaptive" : "fixed " + size));
        }
        header.append(" adaptive / best fixed | adaptive / best fixed within the target |");
        out.println(header);
        for (Map.Entry<String, Map<String, Result>> regime : results.entrySet()) {
            StringBuilder row = new StringBuilder(String.format("| %-16s |", regime.getKey()));
            double bestFixed = 0;
            double bestWithinTarget = 0;
            double target = settings.latencyTarget().toNanos() / 1e6;
            for (Map.Entry<String, Result> cell : regime.getValue().entrySet()) {
                Result r = cell.getValue();
                String failed = r.deadLetteredShare() > 0 ? String.format(", %.0f%% dead-lettered", 100 * r.deadLetteredShare()) : "";
                String first = r.firstOverloadRate() > 0 && r.deadLetteredShare() == 0
                        ? String.format(", %.1f%% in the first overload", 100 * r.firstOverloadRate()) : "";
                row.append(String.format(" %,6.0f (%.1f%%%s%s; %,.0f ms) |", r.perSecond(), 100 * r.retryRate(), first, failed,
                        r.batchMedianMillis()));
                if (!cell.getKey().equals("adaptive") && r.deadLetteredShare() == 0) {
                    bestFixed = Math.max(bestFixed, r.perSecond());
                    if (r.batchMedianMillis() <= target) {
                        bestWithinTarget = Math.max(bestWithinTarget, r.perSecond());
                    }
                }
            }
            Result adaptive = regime.getValue().get("adaptive");
            row.append(adaptive == null || bestFixed == 0 ? " - |" : String.format(" %.2f |", adaptive.perSecond() / bestFixed));
            row.append(adaptive == null || bestWithinTarget == 0 ? " - |"
                    : String.format(" %.2f |", adaptive.perSecond() / bestWithinTarget));
            out.println(row);
        }
        List<String> notes = new ArrayList<>();
        notes.add("best fixed = the fastest fixed size that dead-lettered no payment");
        notes.add("first overload = items refused over capacity within a second of the first refusal (paid once per run)");
        notes.add("ms = the gateway's median time per executed batch, receipt to response; within the target = a fixed "
                + "size whose median met --batch-latency-target");
        out.println(String.join("; ", notes));
    }
}
