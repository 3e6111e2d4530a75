package io.stagewise.jobs.reconcile;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.stagewise.jobs.StagewiseException;
import io.stagewise.jobs.payments.PaymentsLedger;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.util.CloseableIterator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One reconciliation, end to end: take the watermark, run the reconcile job, gather its findings
 * into a {@link ReconcileReport}, and, when asked, repair. Every entry point ({@code stagewise
 * reconcile}, {@code flink run -c io.stagewise.jobs.reconcile.ReconcileJob}, the tests) calls it.
 */
public final class Reconciliation {
    private static final Logger LOG = LoggerFactory.getLogger(Reconciliation.class);
    private static final DateTimeFormatter RUN_ID_TIME = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss");

    private Reconciliation() {}

    /** What to do besides reporting. */
    public record Options(String runId, int examples, boolean repair, boolean dryRun, int batchSize,
                          Optional<Path> html) {
        public Options {
            if (examples < 0) {
                throw new StagewiseException("--examples must not be negative, got " + examples);
            }
            if (batchSize < 1) {
                throw new StagewiseException("--batch-size must be positive, got " + batchSize);
            }
            if (dryRun && !repair) {
                throw new StagewiseException("--dry-run only goes with --repair");
            }
        }

        /** {@code <UTC time>-<random>}: unique enough for a transactional id and a repair-of header. */
        public static String newRunId() {
            return LocalDateTime.now(ZoneOffset.UTC).format(RUN_ID_TIME) + "-"
                    + Integer.toHexString(ThreadLocalRandom.current().nextInt(0x1000, 0x10000));
        }
    }

    /** One full reconciliation: the input from its beginning. */
    public static ReconcileReport run(StreamExecutionEnvironment env, ReconcileSettings settings, Options options) {
        return run(env, settings, options, Optional.empty());
    }

    /**
     * @param state periodic mode: every topic is read from the end offsets the last run stored, the
     *     ids it carried are merged in, and this run stores its end offsets, the ids to carry on and
     *     its counts (docs/reconcile.md, periodic mode)
     */
    public static ReconcileReport run(StreamExecutionEnvironment env, ReconcileSettings settings, Options options,
                                      Optional<ReconcileState> state) {
        if (state.isPresent() && settings.ledger().isEmpty()) {
            throw new StagewiseException("periodic mode (--every) needs the ledger (--jdbc-url): it tells an id settled by an"
                    + " earlier run from a new one by its ledger row");
        }
        Optional<ReconcileState.Previous> previous = state.map(s -> s.load(settings.inputTopic()));
        // (1) The ledger's snapshot, (2) the targets' end offsets, (3) the input's: whatever the pipeline
        // did with an input record past (3) it did after (1) and (2), so the next run sees it.
        PgSnapshot snapshot = state.isPresent() ? ledgerSnapshot(settings.ledger().get()) : null;
        boolean windowed = previous.map(ReconcileState.Previous::windowed).orElse(false);
        Watermark watermark = Watermark.now(settings.bootstrapServers(), settings.kafkaClientProperties(), settings.inputTopic(),
                List.of(settings.outputTopic(), settings.dlqTopic()),
                windowed ? previous.get().positions() : Map.of());
        Map<String, Integer> charges = settings.gatewayUrl().map(Reconciliation::effectiveCharges).orElse(null);
        ReconcileReport report = new ReconcileReport(options.runId(), watermark, options.examples());
        List<Finding> repairable = new ArrayList<>();
        List<Tally> carry = new ArrayList<>();
        List<String> settled = new ArrayList<>();
        env.setParallelism(settings.parallelism());
        JobClient job = null;
        try {
            DataStream<Finding> result = ReconcileJob.build(env, settings, watermark, charges,
                    previous.map(p -> windowed ? p : new ReconcileState.Previous(Map.of(), Optional.empty(), 0, p.database())));
            try (CloseableIterator<Finding> findings = result.collectAsync()) {
                job = env.executeAsync("stagewise reconcile " + settings.inputTopic() + " " + options.runId());
                while (findings.hasNext()) {
                    Finding finding = findings.next();
                    if (finding.kind == Finding.Kind.CARRY) {
                        if (finding.tally != null) {
                            carry.add(finding.tally);
                        } else {
                            settled.add(finding.id);
                        }
                        continue;
                    }
                    report.add(finding);
                    if (options.repair() && Repairer.wanted(finding)) {
                        repairable.add(finding);
                    }
                }
            }
            JobExecutionResult done = job.getJobExecutionResult().get();
            for (String source : ReconcileJob.SOURCES) {
                Long read = done.getAccumulatorResult(ReconcileJob.CountRead.accumulator(source));
                report.read(source, read == null ? 0 : read);
            }
        } catch (StagewiseException e) {
            throw e;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("reconcile job " + options.runId() + " interrupted", e);
        } catch (Exception e) {
            throw new IllegalStateException("reconcile job " + options.runId() + " failed: " + e.getMessage(), e);
        }
        if (options.repair()) {
            report.repaired(Repairer.repair(settings, options.runId(), repairable, options.dryRun(), options.batchSize()));
        }
        if (state.isPresent()) {
            state.get().store(settings.inputTopic(), report, watermark.endOffsets(), snapshot, carry, settled);
            report.history(state.get().history(settings.inputTopic(), ReconcileState.HISTORY));
        }
        LOG.info("Reconciliation {}: {} discrepancies; read {} (records per source); topics from {} to {}", options.runId(),
                report.discrepancies(), report.readCounts(), windowed ? watermark.start() : "the beginning",
                watermark.endOffsets());
        return report;
    }

    private static PgSnapshot ledgerSnapshot(PaymentsLedger.Database db) {
        try (Connection c = db.connect("stagewise-reconcile")) {
            return PgSnapshot.take(c);
        } catch (SQLException e) {
            throw new StagewiseException("cannot read the ledger database's snapshot at " + db + " (--jdbc-url): "
                    + e.getMessage(), e);
        }
    }

    /**
     * Periodic mode ({@code --every}): a reconciliation every {@code every}, each over the input
     * since the last, until interrupted. Returns the last run's exit code.
     */
    public static int every(Duration every, ReconcileSettings settings, Options first, ReconcileState state, boolean json,
                            PrintWriter out) {
        int exit = 0;
        Options options = first;
        while (!Thread.currentThread().isInterrupted()) {
            long started = System.nanoTime();
            ReconcileReport report = run(StreamExecutionEnvironment.getExecutionEnvironment(), settings, options,
                    Optional.of(state));
            exit = print(report, options, json, out);
            options = new Options(Options.newRunId(), options.examples(), options.repair(), options.dryRun(),
                    options.batchSize(), options.html());
            long waitNanos = every.toNanos() - (System.nanoTime() - started);
            try {
                // The schedule itself, not a wait for a condition.
                Thread.sleep(Math.max(0, waitNanos / 1_000_000));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        return exit;
    }

    /** Prints the report (text, then with {@code json} the JSON as the last line), writes the HTML page; returns the exit code. */
    public static int print(ReconcileReport report, Options options, boolean json, PrintWriter out) {
        out.print(report.render());
        if (options.html().isPresent()) {
            try {
                Files.writeString(options.html().get(), report.toHtml(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new StagewiseException("cannot write --html " + options.html().get() + ": " + e.getMessage(), e);
            }
            out.println("HTML report: " + options.html().get().toAbsolutePath());
        }
        if (json) {
            out.println(report.toJson(new ObjectMapper()).toString());
        }
        out.flush();
        return report.exitCode();
    }

    /** {@code GET <gateway>/audit/charges}: effective charges per payment id. */
    static Map<String, Integer> effectiveCharges(String gatewayUrl) {
        URI uri = URI.create(gatewayUrl.replaceAll("/+$", "") + "/audit/charges");
        HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
        try {
            HttpResponse<byte[]> response = client.send(HttpRequest.newBuilder(uri).timeout(Duration.ofMinutes(2)).GET().build(),
                    HttpResponse.BodyHandlers.ofByteArray());
            if (response.statusCode() != 200) {
                throw new StagewiseException("GET " + uri + " answered " + response.statusCode() + " (--gateway-url)");
            }
            return new ObjectMapper().readValue(response.body(), new TypeReference<Map<String, Integer>>() { });
        } catch (IOException e) {
            throw new StagewiseException("cannot read the gateway's charges at " + uri + " (--gateway-url): " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StagewiseException("interrupted reading " + uri, e);
        }
    }
}
