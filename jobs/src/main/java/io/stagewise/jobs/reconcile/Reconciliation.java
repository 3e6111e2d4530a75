package io.stagewise.jobs.reconcile;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.stagewise.jobs.StagewiseException;
import io.stagewise.jobs.audit.Classification.IdClass;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;
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
     * @param state periodic mode: the input is read from the offsets the last run stored, and this
     *     run stores where the next one starts (its earliest in-flight id, else the end offsets)
     */
    public static ReconcileReport run(StreamExecutionEnvironment env, ReconcileSettings settings, Options options,
                                      Optional<ReconcileState> state) {
        Map<Integer, Long> start = state.map(s -> s.load(settings.inputTopic())).orElse(Map.of());
        Watermark watermark = Watermark.now(settings.bootstrapServers(),
                List.of(settings.inputTopic(), settings.outputTopic(), settings.dlqTopic()), start);
        Map<Integer, Long> next = new TreeMap<>(watermark.endOffsets().get(settings.inputTopic()));
        Map<String, Integer> charges = settings.gatewayUrl().map(Reconciliation::effectiveCharges).orElse(null);
        ReconcileReport report = new ReconcileReport(options.runId(), watermark, options.examples());
        List<Finding> repairable = new ArrayList<>();
        env.setParallelism(settings.parallelism());
        try (CloseableIterator<Finding> findings = ReconcileJob.build(env, settings, watermark, charges)
                .executeAndCollect("stagewise reconcile " + settings.inputTopic() + " " + options.runId())) {
            while (findings.hasNext()) {
                Finding finding = findings.next();
                report.add(finding);
                if (finding.kind == Finding.Kind.ID && finding.idClass == IdClass.IN_FLIGHT && finding.partition >= 0) {
                    next.merge(finding.partition, finding.offset, Math::min);
                }
                if (options.repair() && Repairer.wanted(finding)) {
                    repairable.add(finding);
                }
            }
        } catch (StagewiseException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException("reconcile job " + options.runId() + " failed: " + e.getMessage(), e);
        }
        if (options.repair()) {
            report.repaired(Repairer.repair(settings, options.runId(), repairable, options.dryRun(), options.batchSize()));
        }
        state.ifPresent(s -> s.store(settings.inputTopic(), next, options.runId()));
        LOG.info("Reconciliation {}: {} discrepancies; input read from {} to {}", options.runId(), report.discrepancies(),
                start.isEmpty() ? "the beginning" : start, watermark.endOffsets().get(settings.inputTopic()));
        return report;
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
