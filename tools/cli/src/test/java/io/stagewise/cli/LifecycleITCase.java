package io.stagewise.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.stagewise.gateway.GatewayServer;
import io.stagewise.gateway.GatewaySettings;
import io.stagewise.jobs.PipelineTestSupport;
import io.stagewise.jobs.StagewiseOptions;
import io.stagewise.jobs.Topics;
import io.stagewise.jobs.audit.Audit;
import io.stagewise.jobs.audit.AuditReport;
import io.stagewise.jobs.audit.TopicReader;
import io.stagewise.jobs.local.FlinkRest;
import io.stagewise.jobs.local.LocalFlink;
import io.stagewise.jobs.payments.PaymentsLedger;
import io.stagewise.jobs.payments.ledger.LedgerWriter;
import io.stagewise.operators.event.StagewiseHeaders;
import io.stagewise.operators.ingest.EventParser;
import io.stagewise.operators.retry.RetryLadder;
import io.stagewise.operators.stage.RetrySettings;
import io.stagewise.operators.stage.StageSettings;
import io.stagewise.savepoints.Checkpoints;
import io.stagewise.testkit.EmbeddedKafka;
import io.stagewise.testkit.EmbeddedPostgres;
import io.stagewise.testkit.FreePorts;
import io.stagewise.testkit.PaymentGenerator;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.flink.api.common.JobID;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * The lifecycle an operator really puts the payments pipeline through, driven through the
 * launcher ({@code stagewise run} in child JVMs) against a real broker, PostgreSQL ledger and
 * gateway (README.md, "Run it against your Kafka"; docs/operations.md):
 *
 * <ol>
 *   <li>{@code run} at parallelism 2, killed with SIGKILL mid-stream;
 *   <li>{@code run} again without {@code --restore}: refused (exit 2), naming {@code --restore latest}
 *       and {@code --fresh}, before it touches anything;
 *   <li>{@code run --restore latest} catches up; 1,000 already-completed ids are re-sent after their
 *       {@code --dedup-ttl} expired: the job keeps running (no restart), each completes again into the
 *       output (allowed beyond the TTL), while the ledger skips it ({@code ledgerConflicts}) and the
 *       gateway replays its stored answer, so ledger rows, balances and charges stay exactly once;
 *   <li>stop with a savepoint, restore at parallelism 3, stop with a savepoint, restore at parallelism 1;
 *   <li>the audit invariants of docs/audit.md hold over all ids.
 * </ol>
 */
class LifecycleITCase {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String INPUT = PipelineTestSupport.INPUT;
    private static final String OUTPUT = PipelineTestSupport.OUTPUT;
    private static final int FIRST_RUN = 2_000;
    private static final int AT_PARALLELISM_3 = 1_000;
    private static final int AT_PARALLELISM_1 = 1_000;
    private static final int RESENT = 1_000;
    /**
     * Generous for a loaded machine: a charge that exhausts its attempts is dead-lettered, and this
     * test wants every id completed.
     */
    private static final Duration CALL_TIMEOUT = Duration.ofSeconds(5);
    private static final int RETRY_ATTEMPTS = 3;
    private static final Duration RETRY_INITIAL_BACKOFF = Duration.ofMillis(50);
    private static final Duration RETRY_MAX_BACKOFF = Duration.ofMillis(100);
    /**
     * Short, so the test can outlive it: the shortest TTL the stage engine accepts with no
     * retry topics and these attempts and timeouts ({@link StageSettings#minimumStateTtl()}, about 15 s),
     * plus a minute. The TTL is wall-clock time, so it runs on while the job is down: it must also
     * outlast the outage from the kill to the restored job reading its state again (docs/state-and-dedup.md),
     * or events in flight at the kill are dead-lettered as expired, as the contract says and this test does
     * not want. With 15 s of headroom (a 30 s TTL), a CI run at a load average of 20 lost 15 events that
     * way: the restored checkpoint's entries were 35 s old when the second run first read them.
     */
    private static final Duration DEDUP_TTL = new StageSettings(
            RetrySettings.builder().maxAttempts(RETRY_ATTEMPTS).initialBackoff(RETRY_INITIAL_BACKOFF).maxBackoff(RETRY_MAX_BACKOFF).build(),
            CALL_TIMEOUT, StageSettings.DEFAULT_MAX_IN_FLIGHT, Duration.ofHours(1),
            new RetryLadder(0, StagewiseOptions.RETRY_TOPICS_INITIAL_DELAY.defaultValue(),
                    StagewiseOptions.RETRY_TOPICS_MULTIPLIER.defaultValue()), false)
            .minimumStateTtl().plusSeconds(60);

    /** Kept when the test fails: the runs' outputs ({@code <name>.out}) are there. */
    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path tmp;

    private final HttpClient http = HttpClient.newHttpClient();
    private final List<Process> started = new ArrayList<>();

    @Test
    void killRefuseRestoreResendAfterTtlAndRescaleTwoThreeOne() throws Exception {
        PaymentGenerator.Plan plan = PaymentGenerator.plan(new PaymentGenerator.Settings(
                FIRST_RUN + AT_PARALLELISM_3 + AT_PARALLELISM_1, 0.0, 0.0, 9, 20));
        // No duplicates, no malformed records: record i carries the i-th id.
        List<String> ids = new ArrayList<>(plan.validIds());
        List<PaymentGenerator.Record> records = plan.records();
        Path checkpoints = tmp.resolve("checkpoints");
        System.out.println("LifecycleITCase: runs' outputs in " + tmp);
        try (EmbeddedKafka kafka = EmbeddedKafka.start(tmp.resolve("kafka"));
                EmbeddedPostgres postgres = EmbeddedPostgres.start(tmp.resolve("postgres"))) {
            String bootstrap = kafka.bootstrapServers();
            Topics.createAll(bootstrap, 4, List.of(INPUT, OUTPUT));
            String database = postgres.createDatabase("lifecycle");
            try (GatewayServer gateway = GatewayServer.start(GatewaySettings.defaults(), database)) {
                Runs runs = new Runs(bootstrap, checkpoints, gateway.url(), database);
                try {
                    // 1. run at parallelism 2, killed mid-stream.
                    Run first = runs.start("first", 2, null);
                    int half = FIRST_RUN / 2;
                    PaymentGenerator.send(records.subList(0, half), bootstrap, INPUT, 0, n -> { });
                    awaitOutput(bootstrap, 1, Duration.ofSeconds(180));
                    await("a retained checkpoint").atMost(Duration.ofSeconds(90))
                            .until(() -> Checkpoints.latest(checkpoints).isPresent());
                    AtomicLong sentOfSecondHalf = new AtomicLong();
                    CompletableFuture<Void> producing = CompletableFuture.runAsync(() -> PaymentGenerator.send(
                            records.subList(half, FIRST_RUN), bootstrap, INPUT, 100, sentOfSecondHalf::set));
                    await("the second half flowing").atMost(Duration.ofSeconds(60)).until(() -> sentOfSecondHalf.get() >= 200);
                    first.kill();
                    assertThat(half + sentOfSecondHalf.get()).as("killed mid-stream, input still arriving").isLessThan(FIRST_RUN);

                    // 2. run without --restore: refused before it touches anything.
                    Run refused = runs.start("refused", 2, null);
                    assertThat(refused.process.waitFor(120, TimeUnit.SECONDS)).as("the refused run exits").isTrue();
                    assertThat(refused.process.exitValue()).as(refused.output()).isEqualTo(2);
                    assertThat(refused.output()).contains("--restore latest").contains("--fresh");

                    // 3. --restore latest catches up; then 1,000 completed ids re-sent after their TTL expired.
                    Run second = runs.start("second", 2, "latest");
                    producing.get(120, TimeUnit.SECONDS);
                    awaitCompleted(bootstrap, ids.subList(0, FIRST_RUN), Duration.ofSeconds(240));
                    assertThat(second.output()).contains("Restoring from file:" + checkpoints.toAbsolutePath());
                    FlinkRest rest = second.rest();
                    // Every write of these ids' state happened before now; the TTL is processing time, so
                    // nothing observable marks its expiry: wait until the clock is past it, with a margin.
                    long expiredAt = System.nanoTime() + DEDUP_TTL.plusSeconds(2).toNanos();
                    await("the dedup TTL (" + DEDUP_TTL.toMillis() + " ms) of the completed ids expired")
                            .atMost(DEDUP_TTL.plusSeconds(10)).until(() -> System.nanoTime() > expiredAt);
                    Map<String, Integer> chargesBefore = gateway.effectiveCharges();
                    Map<String, String> ledgerBefore = ledgerRows(database);
                    Map<String, String> balancesBefore = balances(database);
                    assertThat(ledgerBefore).hasSize(FIRST_RUN);
                    PaymentGenerator.send(records.subList(0, RESENT), bootstrap, INPUT, 0, n -> { });
                    // Beyond the TTL the dedup layer has forgotten them: each completes again into the output.
                    await("the re-sent ids completed again").atMost(Duration.ofSeconds(180)).pollInterval(Duration.ofSeconds(1))
                            .until(() -> outputCounts(bootstrap).values().stream().mapToInt(Integer::intValue).sum()
                                    >= FIRST_RUN + RESENT);
                    await("every repeat counted as a ledger conflict").atMost(Duration.ofSeconds(60))
                            .until(() -> rest.stagewiseMetric(LedgerWriter.CONFLICTS_METRIC) >= RESENT);
                    assertThat(rest.stagewiseMetric(LedgerWriter.CONFLICTS_METRIC)).isEqualTo(RESENT);
                    assertThat(rest.restarts()).as("the job never restarted").isZero();
                    assertThat(second.process.isAlive()).isTrue();
                    assertThat(second.state()).isEqualTo("RUNNING");
                    assertThat(ledgerRows(database)).as("ledger rows unchanged").isEqualTo(ledgerBefore);
                    assertThat(balances(database)).as("balances unchanged").isEqualTo(balancesBefore);
                    assertThat(gateway.effectiveCharges()).as("effective charges unchanged").isEqualTo(chargesBefore);

                    // 4. rescale 2 -> 3 -> 1 through savepoints.
                    String savepoint = second.stopWithSavepoint(tmp.resolve("savepoints"));
                    Run third = runs.start("third", 3, savepoint);
                    PaymentGenerator.send(records.subList(FIRST_RUN, FIRST_RUN + AT_PARALLELISM_3), bootstrap, INPUT, 0, n -> { });
                    awaitCompleted(bootstrap, ids.subList(0, FIRST_RUN + AT_PARALLELISM_3), Duration.ofSeconds(180));
                    assertThat(third.output()).contains("Restoring from " + savepoint);
                    savepoint = third.stopWithSavepoint(tmp.resolve("savepoints"));
                    Run fourth = runs.start("fourth", 1, savepoint);
                    PaymentGenerator.send(records.subList(FIRST_RUN + AT_PARALLELISM_3, records.size()), bootstrap, INPUT, 0, n -> { });
                    awaitCompleted(bootstrap, ids, Duration.ofSeconds(180));
                    assertThat(fourth.rest().restarts()).as("the job never restarted").isZero();
                    fourth.stopWithSavepoint(tmp.resolve("savepoints")); // every transaction of the last run committed

                    // 5. the audit invariants over all ids.
                    assertAudit(bootstrap, plan, gateway.effectiveCharges(), database, Set.copyOf(ids.subList(0, RESENT)));
                } finally {
                    runs.killAll();
                }
            }
        }
    }

    /**
     * Invariants (2), (3) and (5) as {@link Audit} checks them; (1) and (4) allow the re-sent ids, and
     * only those, a second output record: beyond {@code --dedup-ttl} the output may carry a repeat by
     * contract (docs/state-and-dedup.md), while the ledger and the charges hold each id exactly once.
     */
    private static void assertAudit(String bootstrap, PaymentGenerator.Plan plan, Map<String, Integer> charges,
                                    String database, Set<String> resent) throws SQLException {
        Audit.Expected expected = new Audit.Expected(plan.records().size() + resent.size(), plan.validIds(), 0, plan::sumsFor);
        AuditReport report = Audit.run(new Audit.Topics(bootstrap, INPUT, OUTPUT, Topics.dlq(INPUT)),
                EventParser.DEFAULT_MAX_EVENT_BYTES, Optional.of(expected), Optional.of(charges),
                Optional.of(new PaymentsLedger.Database(database, null, null)));
        for (AuditReport.Check check : report.checks()) {
            if (!check.name().startsWith("(1)") && !check.name().startsWith("(4)")) {
                assertThat(check.passed()).as(report.render()).isTrue();
            }
        }
        assertThat(report.count("deadLetters")).as(report.render()).isZero();
        assertThat(report.count("ledgerRows")).isEqualTo(plan.validIds().size());
        assertThat(report.count("effectiveCharges")).isEqualTo(plan.validIds().size());

        Map<String, Integer> outputs = outputCounts(bootstrap);
        assertThat(outputs.keySet()).as("(1) every id completed").isEqualTo(plan.validIds());
        Set<String> repeated = outputs.entrySet().stream().filter(e -> e.getValue() > 1).map(Map.Entry::getKey)
                .collect(Collectors.toSet());
        assertThat(repeated).as("(4) only re-sent ids repeat in the output").isEqualTo(resent);
        assertThat(repeated.stream().map(outputs::get)).as("(4) once more each").containsOnly(2);
        assertThat(ledgerRows(database).keySet()).as("(2)/(4) one ledger row per completed id").isEqualTo(plan.validIds());
        assertThat(charges.keySet()).isEqualTo(plan.validIds());
        assertThat(charges.values()).as("(3) one effective charge per id").containsOnly(1);
    }

    private static void awaitOutput(String bootstrap, long records, Duration deadline) {
        await("at least " + records + " committed output records").atMost(deadline).pollInterval(Duration.ofMillis(500))
                .until(() -> TopicReader.readAll(bootstrap, OUTPUT, Duration.ofSeconds(30)).size() >= records);
    }

    private static void awaitCompleted(String bootstrap, List<String> ids, Duration deadline) {
        await(ids.size() + " ids in the committed output").atMost(deadline).pollInterval(Duration.ofSeconds(1))
                .until(() -> outputCounts(bootstrap).keySet().containsAll(ids));
    }

    /** Output records per event id, read committed. */
    private static Map<String, Integer> outputCounts(String bootstrap) {
        Map<String, Integer> counts = new HashMap<>();
        for (ConsumerRecord<byte[], byte[]> record : TopicReader.readAll(bootstrap, OUTPUT, Duration.ofSeconds(30))) {
            var header = record.headers().lastHeader(StagewiseHeaders.EVENT_ID);
            counts.merge(header == null ? "" : new String(header.value(), StandardCharsets.UTF_8), 1, Integer::sum);
        }
        return counts;
    }

    private static Map<String, String> ledgerRows(String database) throws SQLException {
        return query(database, "SELECT payment_id, account || ' ' || amount FROM ledger");
    }

    private static Map<String, String> balances(String database) throws SQLException {
        return query(database, "SELECT account, balance::text FROM balances");
    }

    private static Map<String, String> query(String database, String sql) throws SQLException {
        Map<String, String> rows = new HashMap<>();
        try (Connection connection = EmbeddedPostgres.connect(database);
                Statement statement = connection.createStatement();
                ResultSet result = statement.executeQuery(sql)) {
            while (result.next()) {
                rows.put(result.getString(1), result.getString(2));
            }
        }
        return rows;
    }

    /** Starts {@code stagewise run} child JVMs with the same flags; kills what is left in {@link #killAll()}. */
    private final class Runs {
        private final String bootstrap;
        private final Path checkpoints;
        private final String gatewayUrl;
        private final String database;

        Runs(String bootstrap, Path checkpoints, String gatewayUrl, String database) {
            this.bootstrap = bootstrap;
            this.checkpoints = checkpoints;
            this.gatewayUrl = gatewayUrl;
            this.database = database;
        }

        Run start(String name, int parallelism, String restore) throws IOException {
            int port = FreePorts.pick();
            List<String> args = new ArrayList<>(List.of("run", "--bootstrap-servers", bootstrap,
                    "--input-topic", INPUT, "--output-topic", OUTPUT,
                    "--workflow", "payments", "--gateway-url", gatewayUrl, "--jdbc-url", database,
                    "--checkpoint-dir", checkpoints.toString(), "--checkpoint-interval", "500ms",
                    "--parallelism", Integer.toString(parallelism),
                    "--retry-topics", "0", "--retry-attempts", Integer.toString(RETRY_ATTEMPTS), "--call-timeout", CALL_TIMEOUT.toMillis() + "ms",
                    "--retry-initial-backoff", RETRY_INITIAL_BACKOFF.toMillis() + "ms",
                    "-D", "stagewise.retry.max-backoff=" + RETRY_MAX_BACKOFF.toMillis() + "ms",
                    "--dedup-ttl", DEDUP_TTL.toMillis() + "ms",
                    "--dashboard-port", Integer.toString(port)));
            if (restore != null) {
                args.addAll(List.of("--restore", restore));
            }
            Path out = tmp.resolve(name + ".out");
            Process process = new ProcessBuilder(CliRun.processCommand(args)).redirectErrorStream(true).redirectOutput(out.toFile()).start();
            started.add(process);
            return new Run(process, out, LocalFlink.dashboardUrl(port));
        }

        void killAll() throws InterruptedException {
            for (Process process : started) {
                process.destroyForcibly();
                process.waitFor(30, TimeUnit.SECONDS);
            }
        }
    }

    /** One {@code stagewise run} child JVM and its dashboard. */
    private final class Run {
        final Process process;
        final Path out;
        final String dashboard;
        private JobID job;

        Run(Process process, Path out, String dashboard) {
            this.process = process;
            this.out = out;
            this.dashboard = dashboard;
        }

        String output() throws IOException {
            return Files.readString(out);
        }

        /** SIGKILL: no shutdown hook, no clean cancel. */
        void kill() throws InterruptedException {
            process.destroyForcibly();
            assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
        }

        /** The running job, as the dashboard lists it. */
        JobID job() {
            if (job == null) {
                await("the job running on " + dashboard).atMost(Duration.ofSeconds(120)).ignoreExceptions()
                        .until(() -> {
                            for (JsonNode j : get("/jobs").path("jobs")) {
                                if ("RUNNING".equals(j.path("status").asText())) {
                                    job = JobID.fromHexString(j.path("id").asText());
                                }
                            }
                            return job != null;
                        });
            }
            return job;
        }

        /** The job's state as the dashboard reports it. */
        String state() throws IOException, InterruptedException {
            return get("/jobs/" + job()).path("state").asText();
        }

        FlinkRest rest() {
            return new FlinkRest(dashboard, job());
        }

        /** {@code POST /jobs/<id>/stop}; waits for the savepoint and for the process to exit 0; returns its location. */
        String stopWithSavepoint(Path directory) throws Exception {
            String body = JSON.createObjectNode().put("targetDirectory", directory.toUri().toString()).put("drain", false).toString();
            HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(dashboard + "/jobs/" + job() + "/stop"))
                    .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(response.statusCode()).as(response.body()).isEqualTo(202);
            String request = JSON.readTree(response.body()).path("request-id").asText();
            // The run exits as soon as the job has stopped, often before the status can be polled:
            // then the savepoint is the one named after this job in the target directory.
            JsonNode[] status = new JsonNode[1];
            await("the savepoint of " + job).atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(200))
                    .ignoreExceptions().until(() -> !process.isAlive() || "COMPLETED".equals(
                            (status[0] = get("/jobs/" + job + "/savepoints/" + request)).path("status").path("id").asText()));
            assertThat(process.waitFor(120, TimeUnit.SECONDS)).as("the run ends after stop-with-savepoint").isTrue();
            assertThat(process.exitValue()).as(output()).isZero();
            if (status[0] != null && status[0].path("operation").has("location")) {
                return status[0].path("operation").path("location").asText();
            }
            String prefix = "savepoint-" + job.toString().substring(0, 6) + "-";
            try (Stream<Path> savepoints = Files.list(directory)) {
                Path savepoint = savepoints.filter(p -> p.getFileName().toString().startsWith(prefix))
                        .filter(p -> Files.exists(p.resolve("_metadata"))).findFirst()
                        .orElseThrow(() -> new AssertionError("no savepoint of " + job + " in " + directory
                                + (status[0] == null ? "" : ": " + status[0])));
                return "file:" + savepoint.toAbsolutePath();
            }
        }

        private JsonNode get(String path) throws IOException, InterruptedException {
            HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(dashboard + path))
                    .timeout(Duration.ofSeconds(5)).GET().build(), HttpResponse.BodyHandlers.ofString());
            return JSON.readTree(response.body());
        }
    }
}
