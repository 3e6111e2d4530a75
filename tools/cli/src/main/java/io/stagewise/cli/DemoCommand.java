package io.stagewise.cli;

import io.stagewise.jobs.flags.DurationConverter;
import io.stagewise.jobs.flags.NonNegativeDurationConverter;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.stagewise.jobs.FlinkSettings;
import io.stagewise.jobs.Endpoints;
import io.stagewise.jobs.PipelineJob;
import io.stagewise.jobs.PipelineSettings;
import io.stagewise.jobs.StagewiseException;
import io.stagewise.jobs.StagewiseOptions;
import io.stagewise.jobs.Topics;
import io.stagewise.jobs.audit.Audit;
import io.stagewise.jobs.audit.AuditReport;
import io.stagewise.testkit.PaymentGenerator;
import io.stagewise.jobs.local.FlinkRest;
import io.stagewise.jobs.local.LocalFlink;
import io.stagewise.testkit.EmbeddedKafka;
import io.stagewise.testkit.Directories;
import io.stagewise.testkit.EmbeddedPostgres;
import io.stagewise.gateway.GatewayServer;
import io.stagewise.jobs.payments.PaymentsLedger;
import io.stagewise.gateway.GatewaySettings;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code stagewise demo}: everything embedded (Kafka, PostgreSQL, Flink with dashboard), generated
 * payments with duplicates and malformed records, live progress, then a summary and the audit.
 * Exits 0 only when the audit holds.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Run the whole pipeline on embedded Kafka, PostgreSQL and Flink, then audit it.")
public final class DemoCommand implements Callable<Integer> {
    private static final String INPUT = "payments";
    private static final String OUTPUT = "payments.completed";

    @Mixin
    ProduceCommand.GeneratorFlags generator = new ProduceCommand.GeneratorFlags();

    @Option(names = "--rate", defaultValue = "2000", description = "Records per second the generator sends, 0 = unthrottled (default: ${DEFAULT-VALUE}).")
    int rate;

    @Option(names = "--parallelism", defaultValue = "2", description = "Job parallelism (default: ${DEFAULT-VALUE}).")
    int parallelism;

    @Option(names = "--partitions", defaultValue = "4", description = "Partitions of the input topic (default: ${DEFAULT-VALUE}).")
    int partitions;

    @Option(names = "--checkpoint-interval", defaultValue = "2s", converter = DurationConverter.class,
            description = "Checkpoint interval (default: ${DEFAULT-VALUE}).")
    Duration checkpointInterval;

    @Option(names = "--dashboard-port", defaultValue = "8081", description = "Flink dashboard port (default: ${DEFAULT-VALUE}).")
    int dashboardPort;

    @Option(names = "--prometheus-port", description = "Also expose every metric at http://127.0.0.1:PORT/metrics for Prometheus (default: off).")
    Integer prometheusPort;

    @Option(names = "--transient-failure-rate", defaultValue = "0.02", description = "Share of gateway requests answered 503 before executing (default: ${DEFAULT-VALUE}).")
    double transientFailureRate;

    @Option(names = "--timeout-rate", defaultValue = "0.01", description = "Share of gateway requests that execute but lose their response: the ambiguous ack (default: ${DEFAULT-VALUE}).")
    double timeoutRate;

    @Option(names = "--permanent-failure-rate", defaultValue = "0.01", description = "Share of accounts whose charges the gateway declines with 402 (default: ${DEFAULT-VALUE}).")
    double permanentFailureRate;

    @Option(names = "--gateway-latency", defaultValue = "0ms", converter = NonNegativeDurationConverter.class,
            description = "Latency the gateway adds to every request (default: ${DEFAULT-VALUE}).")
    Duration gatewayLatency;

    @Option(names = "--retry-topic-delay", defaultValue = "1s", converter = DurationConverter.class,
            description = "Delay of payments.retry.1 (x4 per step; default: ${DEFAULT-VALUE}, shorter than a production 5s so the demo ends sooner).")
    Duration retryTopicDelay;

    @Option(names = "--inject-failure", description = "Make the job fail mid-stream once, to watch it recover from the last checkpoint.")
    boolean injectFailure;

    @Option(names = "--keep-running", description = "Keep the job and the dashboard up after the audit, until Ctrl-C.")
    boolean keepRunning;

    @Option(names = "--timeout", defaultValue = "5min", converter = DurationConverter.class,
            description = "Give up when the pipeline has not caught up by then (default: ${DEFAULT-VALUE}).")
    Duration timeout;

    @Option(names = "--data-dir", description = "Keep broker, database and checkpoint data here (default: a temporary directory, deleted at the end).")
    Path dataDir;

    @Option(names = "--json", description = "Print a machine-readable summary as the last line.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        if (parallelism < 1 || partitions < 1) {
            throw new StagewiseException("--parallelism and --partitions must be >= 1");
        }
        if (permanentFailureRate < 0 || permanentFailureRate > 1) {
            throw new StagewiseException("--permanent-failure-rate must be in [0, 1], got " + permanentFailureRate);
        }
        PaymentGenerator.Plan plan = PaymentGenerator.plan(generator.settings());
        GatewaySettings gatewaySettings;
        try {
            gatewaySettings = GatewaySettings.builder()
                    .randomFaults(transientFailureRate, timeoutRate, generator.input.seed)
                    .latency(gatewayLatency)
                    .declineAccounts(declinedAccounts())
                    .build();
        } catch (IllegalArgumentException e) {
            throw new StagewiseException(e.getMessage());
        }
        Path dir = dataDir != null ? dataDir : Files.createTempDirectory("stagewise-demo-");
        long started = System.nanoTime();
        System.out.println("Stagewise demo: starting embedded Kafka, PostgreSQL and Flink ...");
        try (EmbeddedKafka kafka = EmbeddedKafka.start(dir.resolve("kafka"));
                EmbeddedPostgres postgres = EmbeddedPostgres.start(dir.resolve("postgres"));
                GatewayServer gateway = GatewayServer.start(gatewaySettings, postgres.jdbcUrl())) {
            String bootstrap = kafka.bootstrapServers();
            Topics.createAll(bootstrap, partitions, List.of(INPUT));

            Configuration conf = FlinkSettings.defaults(checkpointInterval, dir.resolve("checkpoints"));
            conf.set(StagewiseOptions.BOOTSTRAP_SERVERS, bootstrap);
            conf.set(StagewiseOptions.INPUT_TOPIC, INPUT);
            conf.set(StagewiseOptions.OUTPUT_TOPIC, OUTPUT);
            if (injectFailure) {
                conf.set(StagewiseOptions.INJECT_FAILURE_AFTER, Math.max(1L, plan.validIds().size() / (2L * parallelism)));
            }
            conf.set(StagewiseOptions.GATEWAY_URL, gateway.url());
            conf.set(StagewiseOptions.RETRY_TOPICS_INITIAL_DELAY, retryTopicDelay);
            conf.set(StagewiseOptions.LEDGER_JDBC_URL, postgres.jdbcUrl());
            PipelineSettings settings = PipelineSettings.from(conf);
            PaymentsLedger.Database ledger = new PaymentsLedger.Database(postgres.jdbcUrl(), null, null); // for the audit
            Topics.Layout layout = PipelineJob.prepareTopics(settings);
            if (prometheusPort != null) {
                LocalFlink.withPrometheus(conf, prometheusPort);
            }
            StreamExecutionEnvironment env = LocalFlink.withDashboard(conf, dashboardPort);
            env.setParallelism(parallelism);
            PipelineJob.assemble(env, settings, Endpoints.production(settings, layout));

            System.out.printf("  Kafka broker     %s (embedded, KRaft)%n", bootstrap);
            System.out.printf("  PostgreSQL       %s (embedded)%n", postgres.jdbcUrl());
            System.out.printf("  gateway          %s (503 %.1f%%, lost responses %.1f%%, declined accounts %s, latency %s)%n",
                    gateway.url(), 100 * transientFailureRate, 100 * timeoutRate, declinedAccounts(), gatewayLatency);
            System.out.printf("  Flink dashboard  %s%n", LocalFlink.dashboardUrl(dashboardPort));
            if (prometheusPort != null) {
                System.out.printf("  Prometheus       %s%n", LocalFlink.prometheusUrl(prometheusPort));
            }
            System.out.printf("  pipeline         %s (%d partitions) -> validate -> charge -> notify -> %s + ledger, dead letters %s%n",
                    INPUT, partitions, OUTPUT, Topics.dlq(INPUT));
            System.out.printf("  generating       %d records: %d distinct payments, %d duplicates, %d malformed, at %s%n",
                    plan.records().size(), plan.validIds().size(), plan.duplicates(), plan.malformed(),
                    rate == 0 ? "full speed" : rate + "/s");
            if (injectFailure) {
                System.out.println("  failure          each subtask fails once mid-stream (--inject-failure)");
            }

            JobClient job = env.executeAsync("stagewise demo");
            FlinkRest rest = new FlinkRest(LocalFlink.dashboardUrl(dashboardPort), job.getJobID());
            AtomicLong produced = new AtomicLong();
            CompletableFuture<Void> producing = CompletableFuture.runAsync(
                    () -> PaymentGenerator.send(plan, bootstrap, INPUT, rate, produced::set));

            Outcome outcome;
            long dropped;
            long restarts;
            Optional<long[]> checkpoint;
            Optional<FlinkRest.CheckpointDurations> durations;
            try (TopicCounter counter = new TopicCounter(bootstrap, OUTPUT, Topics.dlq(INPUT))) {
                outcome = follow(plan, job, rest, producing, produced, counter);
                dropped = rest.stagewiseMetric("duplicatesDropped");
                restarts = rest.restarts();
                checkpoint = rest.latestCheckpoint();
                durations = rest.checkpointDurations();
            }
            if (producing.isCompletedExceptionally()) {
                producing.join(); // rethrows the producer's failure
            }
            if (!keepRunning) {
                job.cancel().get(30, TimeUnit.SECONDS);
            }

            AuditReport report = Audit.run(new Audit.Topics(bootstrap, INPUT, OUTPUT, Topics.dlq(INPUT)),
                    settings.maxEventBytes(), Optional.of(new Audit.Expected(plan.records().size(), plan.validIds(), plan.malformed(), plan::sumsFor)), Optional.of(gateway.effectiveCharges()),
                    Optional.of(ledger));
            double seconds = (System.nanoTime() - started) / 1e9;
            System.out.println();
            System.out.println(outcome.message);
            System.out.printf("Summary: %d records produced, %d payments completed, %d ledger rows, %d effective charges, %d duplicates "
                            + "in the input (%d dropped by dedup since the last restart), %d dead-lettered, %d restart(s), "
                            + "%d checkpoints, %.1f s%n",
                    produced.get(), report.count("completed"), report.count("ledgerRows"), report.count("effectiveCharges"),
                    report.count("duplicatesInInput"), dropped, report.count("deadLetters"), restarts,
                    checkpoint.map(c -> c[0]).orElse(0L), seconds);
            System.out.printf("Checkpoints (interval %s): %s%n", checkpointInterval.toString().substring(2).toLowerCase(Locale.ROOT),
                    durations.map(FlinkRest.CheckpointDurations::render).orElse("none completed"));
            System.out.println("Audit (docs/audit.md):");
            System.out.print(report.render());
            boolean passed = outcome.caughtUp && report.passed();
            System.out.println(passed ? "Audit holds: every payment exactly once." : "AUDIT FAILED");
            if (json) {
                ObjectMapper mapper = new ObjectMapper();
                ObjectNode summary = mapper.createObjectNode();
                summary.put("passed", passed);
                summary.put("caughtUp", outcome.caughtUp);
                summary.put("produced", produced.get());
                summary.put("restarts", restarts);
                summary.put("checkpoints", checkpoint.map(c -> c[0]).orElse(0L));
                durations.ifPresent(d -> summary.putObject("checkpointDurationMs").put("p50", d.p50()).put("p99", d.p99())
                        .put("max", d.max()));
                summary.put("duplicatesDroppedSinceLastRestart", dropped);
                summary.put("seconds", Math.round(seconds * 10) / 10.0);
                summary.set("audit", report.toJson(mapper));
                System.out.println(summary);
            }
            if (keepRunning) {
                System.out.printf("Job still running; dashboard at %s. Ctrl-C to stop.%n", LocalFlink.dashboardUrl(dashboardPort));
                job.getJobExecutionResult().get();
            }
            return passed ? 0 : 1;
        } finally {
            if (dataDir == null) {
                deleteRecursively(dir);
            }
        }
    }

    private record Outcome(boolean caughtUp, String message) {}

    /** Shows live progress until the pipeline has caught up with everything produced, or fails. */
    private Outcome follow(PaymentGenerator.Plan plan, JobClient job, FlinkRest rest,
                           CompletableFuture<Void> producing, AtomicLong produced, TopicCounter counter) throws Exception {
        ProgressLine line = new ProgressLine(System.out);
        long deadline = System.nanoTime() + timeout.toNanos();
        int total = plan.records().size();
        long lastRestFetch = 0;
        long dropped = 0;
        long restarts = 0;
        Optional<long[]> checkpoint = Optional.empty();
        Long caughtUpAtCheckpoint = null;
        while (true) {
            if (System.currentTimeMillis() - lastRestFetch > 1000) {
                dropped = rest.stagewiseMetric("duplicatesDropped");
                restarts = rest.restarts();
                checkpoint = rest.latestCheckpoint();
                lastRestFetch = System.currentTimeMillis();
            }
            String text = String.format("produced %d/%d | completed %d/%d | duplicates dropped %d | dead-lettered %d | %s | restarts %d",
                    produced.get(), total, counter.outputDistinct(), plan.validIds().size(), dropped,
                    counter.deadLetters(), checkpoint.map(c -> "checkpoint #" + c[0] + " (" + c[1] + " ms)").orElse("no checkpoint yet"),
                    restarts);
            // Every distinct payment completed or dead-lettered, every malformed record dead-lettered.
            boolean caughtUp = producing.isDone()
                    && counter.outputDistinct() + counter.deadLetters() >= plan.validIds().size() + plan.malformed();
            if (caughtUp && caughtUpAtCheckpoint == null) {
                // One more checkpoint, so anything still in flight (a duplicate, say) commits too and shows in the audit.
                caughtUpAtCheckpoint = checkpoint.map(c -> c[0]).orElse(0L);
            }
            if (caughtUpAtCheckpoint != null && checkpoint.map(c -> c[0]).orElse(0L) > caughtUpAtCheckpoint) {
                line.finish(text);
                return new Outcome(true, "Caught up: everything produced has been processed and committed.");
            }
            if (producing.isCompletedExceptionally()) {
                line.finish(text);
                return new Outcome(false, "The generator failed; see the error below.");
            }
            JobStatus status = jobStatus(job);
            if (status != null && status.isGloballyTerminalState()) {
                line.finish(text);
                return new Outcome(false, "The job ended unexpectedly with status " + status + "; see .stagewise/logs.");
            }
            if (System.nanoTime() > deadline) {
                line.finish(text);
                return new Outcome(false, "Timed out after " + timeout + " without catching up (--timeout).");
            }
            line.update(text);
            // Redraw pacing for a console line, not a wait for a condition.
            TimeUnit.MILLISECONDS.sleep(200);
        }
    }

    /**
     * The job's status, or null when the mini cluster did not answer within 5 s: under heavy load a slow answer is
     * no failure, and the next round asks again (the --timeout deadline still bounds the wait).
     */
    static JobStatus jobStatus(JobClient job) throws Exception {
        try {
            return job.getJobStatus().get(5, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            return null;
        }
    }

    /** The first accounts, as many as --permanent-failure-rate of them; the gateway declines their charges. */
    private Set<String> declinedAccounts() {
        int count = (int) Math.round(permanentFailureRate * generator.input.accounts);
        return IntStream.range(0, count).mapToObj(i -> "acct-" + i).collect(Collectors.toCollection(TreeSet::new));
    }

    private static void deleteRecursively(Path dir) {
        try {
            Directories.deleteRecursively(dir);
        } catch (IOException e) {
            System.err.println("stagewise: could not delete " + dir + ": " + e.getMessage());
        }
    }
}
