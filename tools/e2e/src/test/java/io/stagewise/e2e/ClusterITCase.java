package io.stagewise.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.stagewise.jobs.PipelineJob;
import io.stagewise.jobs.PipelineTestSupport;
import io.stagewise.jobs.Topics;
import io.stagewise.jobs.audit.Audit;
import io.stagewise.jobs.audit.AuditReport;
import io.stagewise.jobs.audit.TopicReader;
import io.stagewise.jobs.payments.PaymentsLedger;
import io.stagewise.jobs.payments.ledger.LedgerWriter;
import io.stagewise.operators.event.StagewiseHeaders;
import io.stagewise.operators.ingest.EventParser;
import io.stagewise.operators.retry.RetryLadder;
import io.stagewise.savepoints.SavepointInspection;
import io.stagewise.savepoints.internal.StageStateEntry;
import io.stagewise.testkit.FreePorts;
import io.stagewise.testkit.PaymentGenerator;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;
import org.postgresql.Driver;

/**
 * The payments pipeline on a real standalone Flink 2.2.1 session cluster, the way teams run it:
 * a JobManager and two TaskManagers as separate processes ({@link FlinkCluster}), the Kafka broker,
 * PostgreSQL and the reference gateway (with injected 503s and lost responses) as their own
 * processes, the cluster jar submitted with Flink's CLI. Through a {@code kill -9} of a TaskManager
 * mid-stream and two stop-with-savepoint rescales on the same session cluster (2 → 3 → 1) it
 * checks the audit invariants of docs/audit.md over all records, that duplicates of ids completed
 * before each rescale are still dropped, that retries waiting at each savepoint still fire, and
 * that events parked behind them are released in input order per key.
 *
 * <p>The job runs with per-key ordering. Before each savepoint two accounts' payments are made to
 * fail their first {@value #DESIGNATED_FAILURES} charge requests (the gateway's fault list): they
 * climb the retry ladder (8 s, 16 s, 32 s) while their accounts' later payments park behind them.
 * Each savepoint is read with {@code savepoint inspect}'s reader ({@link SavepointInspection}, what
 * {@code stagewise savepoint inspect --json} prints) to show those waits and parked events are in
 * it; the ledger sink's part of the savepoint (rows carried in its writer state) and PostgreSQL's
 * prepared transactions are read too.
 *
 * <p>Every process is ended in {@link #stopEverything()}, even when the test fails; their logs stay
 * in the test's folder ({@code log/}, {@code *.out}).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ClusterITCase {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String INPUT = PipelineTestSupport.INPUT;
    private static final int RETRY_TOPICS = 3;
    private static final int RETRY_ATTEMPTS = 3;
    /**
     * Charge requests answered 503 for each designated payment: three tiers of in-operator attempts,
     * so it waits in steps 1, 2 and 3 (8 + 16 + 32 s: long enough for a slow stop-with-savepoint on
     * a loaded machine), and its fourth tier succeeds.
     */
    private static final int DESIGNATED_FAILURES = 3 * RETRY_ATTEMPTS;
    /** Accounts whose payment is designated to fail before each savepoint. */
    private static final int DESIGNATED_ACCOUNTS = 2;
    private static final int RATE = 250;
    private static final int DUPLICATES_PER_RESCALE = 40;
    /**
     * Deadline of every wait. Generous on purpose: on the shared 2-core CI machine a first
     * checkpoint of the job has taken 80 s while other builds ran; alone it takes about a second.
     */
    private static final Duration PATIENCE = Duration.ofMinutes(5);

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    static Path tmp;

    private final long suiteStarted = System.nanoTime();
    private ChildProcesses processes;
    private FlinkCluster flink;
    private String bootstrap;
    private String jdbcUrl;
    private String gatewayUrl;
    private Path clusterJar;
    private final HttpClient http = HttpClient.newHttpClient();
    private final PaymentGenerator.Plan plan = PaymentGenerator.plan(new PaymentGenerator.Settings(6_000, 0.05, 0.002, 10, 20));
    private final int quarter = plan.records().size() / 4;
    /** Per savepoint (1, 2): the payments that fail {@value #DESIGNATED_FAILURES} charge requests, one per account. */
    private final Map<Integer, List<String>> designated = Map.of(1, designate(1), 2, designate(2));

    @BeforeAll
    void startEverything() throws Exception {
        Files.deleteIfExists(Path.of("target", "cluster-suite.log"));
        clusterJar = clusterJar();
        processes = new ChildProcesses(tmp);
        bootstrap = startService("kafka", tmp.resolve("kafka-data").toString());
        jdbcUrl = startService("postgres", tmp.resolve("postgres-data").toString());
        // 10% of calls answered 503, 2% executed with the response lost (the ambiguous ack), and
        // every request of the designated payments' first DESIGNATED_FAILURES charge requests 503.
        Path failing = Files.write(tmp.resolve("failing-ids.txt"),
                Stream.concat(designated.get(1).stream(), designated.get(2).stream()).toList(), StandardCharsets.UTF_8);
        gatewayUrl = startService("gateway", Integer.toString(FreePorts.pick()), jdbcUrl, "0.1", "0.02",
                failing.toString(), Integer.toString(DESIGNATED_FAILURES));
        await("the gateway answering").atMost(PATIENCE).pollInterval(Duration.ofMillis(300))
                .until(() -> httpGet(gatewayUrl + "/health").isPresent());

        progress("broker " + bootstrap + ", PostgreSQL, gateway " + gatewayUrl + " up");
        flink = new FlinkCluster(processes, tmp.resolve("flink"));
        flink.startJobManager();
        flink.startTaskManager("taskmanager-1", 1);
        flink.startTaskManager("taskmanager-2", 2);
        Topics.createAll(bootstrap, 4, List.of(INPUT));
        progress("Flink session cluster up: JobManager and 2 TaskManagers, dashboard " + flink.restUrl());
    }

    @AfterAll
    void stopEverything() {
        if (processes != null) {
            processes.close();
        }
        progress("wall time " + TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - suiteStarted) + " s, every process stopped");
    }

    /** One line per step, with the seconds since the suite started, to stdout and target/cluster-suite.log. */
    private void progress(String step) {
        String line = String.format("cluster suite +%ds: %s%n", TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - suiteStarted), step);
        System.out.print(line);
        try {
            Files.writeString(Path.of("target", "cluster-suite.log"), line, StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            System.out.println("cannot write target/cluster-suite.log: " + e);
        }
    }

    @Test
    void killAndRescaleTwiceOnOneSessionCluster() throws Exception {
        List<PaymentGenerator.Record> records = plan.records();
        Map<String, SavepointInspection> inspected = new LinkedHashMap<>();
        Map<String, List<String>> carried = new LinkedHashMap<>();
        List<PaymentGenerator.Record> extraDuplicates = new ArrayList<>();

        // 1. Parallelism 2; a TaskManager is killed with SIGKILL while input arrives.
        String job1 = submit(2, null);
        awaitRunning(job1);
        progress("job " + job1 + " running at parallelism 2");
        CompletableFuture<Void> slice1 = produce(records.subList(0, quarter), new AtomicLong());
        PipelineTestSupport.awaitOutput(bootstrap, 50, PATIENCE);
        await("a completed checkpoint").atMost(PATIENCE).until(() -> flink.latestCheckpoint(job1) > 0);
        long checkpointBeforeKill = flink.latestCheckpoint(job1);
        String victim = flink.busiestTaskManager();
        flink.killTaskManager(victim);
        progress(victim + " killed (SIGKILL) after checkpoint " + checkpointBeforeKill);
        await("job restarted after the TaskManager kill").atMost(PATIENCE).pollInterval(Duration.ofMillis(500))
                .until(() -> flink.restarts(job1) >= 1);
        awaitRunning(job1);
        await("a checkpoint completed after recovery").atMost(PATIENCE).pollInterval(Duration.ofMillis(500))
                .until(() -> flink.latestCheckpoint(job1) > checkpointBeforeKill);
        progress("job recovered: restarted, checkpoint " + flink.latestCheckpoint(job1) + " completed");
        flink.startTaskManager("taskmanager-3", 2);
        slice1.get(PATIENCE.toSeconds(), TimeUnit.SECONDS);

        // 2. Stop with a savepoint while input arrives and retries wait; resume at parallelism 3.
        AtomicLong sent2 = new AtomicLong();
        CompletableFuture<Void> slice2 = produce(records.subList(quarter, 2 * quarter), sent2);
        await().atMost(PATIENCE).until(() -> sent2.get() >= quarter / 2);
        awaitInLadder(designated.get(1));
        String savepoint1 = flink.stopWithSavepoint(job1, tmp.resolve("savepoints"));
        long savepoint1At = System.currentTimeMillis();
        progress("stopped with savepoint " + savepoint1);
        inspected.put(savepoint1, inspect(savepoint1, designated.get(1)));
        carried.put(savepoint1, LedgerSinkState.carriedRows(savepoint1));
        Set<String> completedBefore1 = outputIds();
        String job2 = submit(3, savepoint1);
        awaitRunning(job2);
        assertThat(flink.vertexParallelism(job2)).as("every operator rescaled to 3").containsOnly(3);
        progress("job " + job2 + " restored at parallelism 3");
        extraDuplicates.addAll(duplicatesOf(records.subList(0, quarter), completedBefore1));
        produce(extraDuplicates.subList(0, DUPLICATES_PER_RESCALE), new AtomicLong()).get(PATIENCE.toSeconds(), TimeUnit.SECONDS);
        slice2.get(PATIENCE.toSeconds(), TimeUnit.SECONDS);

        // 3. Again, down to parallelism 1, on the same session cluster.
        AtomicLong sent3 = new AtomicLong();
        CompletableFuture<Void> slice3 = produce(records.subList(2 * quarter, 3 * quarter), sent3);
        await().atMost(PATIENCE).until(() -> sent3.get() >= quarter / 2);
        awaitInLadder(designated.get(2));
        String savepoint2 = flink.stopWithSavepoint(job2, tmp.resolve("savepoints"));
        long savepoint2At = System.currentTimeMillis();
        progress("stopped with savepoint " + savepoint2);
        inspected.put(savepoint2, inspect(savepoint2, designated.get(2)));
        carried.put(savepoint2, LedgerSinkState.carriedRows(savepoint2));
        Set<String> completedBefore2 = outputIds();
        String job3 = submit(1, savepoint2);
        awaitRunning(job3);
        assertThat(flink.vertexParallelism(job3)).as("every operator rescaled to 1").containsOnly(1);
        progress("job " + job3 + " restored at parallelism 1");
        List<PaymentGenerator.Record> secondDuplicates = duplicatesOf(records.subList(quarter, 2 * quarter), completedBefore2)
                .subList(0, DUPLICATES_PER_RESCALE);
        extraDuplicates.addAll(secondDuplicates);
        produce(secondDuplicates, new AtomicLong()).get(PATIENCE.toSeconds(), TimeUnit.SECONDS);
        slice3.get(PATIENCE.toSeconds(), TimeUnit.SECONDS);
        produce(records.subList(3 * quarter, records.size()), new AtomicLong()).get(PATIENCE.toSeconds(), TimeUnit.SECONDS);

        // 4. Everything settled (the retry ladder drained), one more checkpoint, then the audit.
        progress("all input sent");
        Audit.Topics topics = PipelineTestSupport.topics(bootstrap);
        PipelineTestSupport.awaitSettled(topics, plan, PATIENCE);
        long settledAt = flink.latestCheckpoint(job3);
        await("one more checkpoint, so anything in flight commits").atMost(PATIENCE)
                .until(() -> flink.latestCheckpoint(job3) > settledAt);
        AuditReport report = Audit.run(topics, EventParser.DEFAULT_MAX_EVENT_BYTES,
                Optional.of(new Audit.Expected(records.size() + 2 * DUPLICATES_PER_RESCALE, plan.validIds(), plan.malformed(),
                        plan::sumsFor)),
                Optional.of(effectiveCharges()), Optional.of(new PaymentsLedger.Database(jdbcUrl, null, null)));
        progress("audit:\n" + report.render());
        assertThat(report.passed()).as(report.render()).isTrue();
        assertThat(report.count("ledgerRows")).isPositive();

        // Duplicates of ids completed before each rescale were dropped: one output record each.
        Map<String, Long> outputCounts = outputIdCounts();
        for (PaymentGenerator.Record duplicate : extraDuplicates.subList(0, 2 * DUPLICATES_PER_RESCALE)) {
            String id = eventId(duplicate);
            assertThat(outputCounts.get(id)).as("output records of %s, re-sent after a rescale", id).isEqualTo(1L);
        }

        // Retries waiting in the ladder at each savepoint fired after the restore.
        Set<String> settled = new HashSet<>(outputCounts.keySet());
        TopicReader.readAll(bootstrap, Topics.dlq(INPUT), Duration.ofSeconds(30)).forEach(r -> settled.add(header(r, StagewiseHeaders.EVENT_ID)));
        for (long savepointAt : List.of(savepoint1At, savepoint2At)) {
            List<String> waiting = retriesWaitingAt(savepointAt);
            progress(waiting.size() + " retries waiting in the ladder at the savepoint of " + savepointAt);
            assertThat(waiting).as("retries waiting in the ladder at the savepoint of %d", savepointAt).isNotEmpty();
            assertThat(settled).as("retries waiting at the savepoint of %d, settled after the restore", savepointAt)
                    .containsAll(waiting);
        }

        // The designated payments completed (their charges succeed after the failures) and the
        // events parked behind them at each savepoint came out in their key's input order, after them.
        Map<String, List<String>> outputByKey = outputIdsByKey();
        for (Map.Entry<String, SavepointInspection> savepoint : inspected.entrySet()) {
            savepoint.getValue().parkedByKey().forEach((key, parked) -> {
                assertThat(parked).as("parked events of %s at %s, in input order", key, savepoint.getKey())
                        .isSortedAccordingTo(Comparator.comparingInt(this::inputPosition));
                String running = savepoint.getValue().entries().stream()
                        .filter(e -> e.kind == StageStateEntry.Kind.ACTIVE && e.key.equals(key)).map(e -> e.eventId).findFirst().orElseThrow();
                List<String> expected = new ArrayList<>();
                expected.add(running);
                expected.addAll(parked);
                List<String> released = outputByKey.getOrDefault(key, List.of()).stream().filter(expected::contains).toList();
                List<String> dead = expected.stream().filter(id -> !released.contains(id)).toList();
                assertThat(released).as("output order of %s's running and parked events at %s (dead-lettered: %s)", key,
                        savepoint.getKey(), dead).isEqualTo(expected.stream().filter(released::contains).toList());
                assertThat(settled).as("%s's events parked at %s, settled", key, savepoint.getKey()).containsAll(expected);
            });
        }
        assertThat(settled).as("designated payments settled (their fourth tier succeeds, unless random faults fail it too)")
                .containsAll(designated.get(1)).containsAll(designated.get(2));

        // Deferred ledger rows: a stop-with-savepoint whose barrier reaches a ledger writer while the
        // subtask's previous transaction is still prepared (its commit notification not processed
        // yet) carries that checkpoint's rows in the savepoint (the lock trap, docs/payments.md).
        // They are applied once, at the restore. Whether a barrier finds a transaction still
        // prepared is timing, which the suite cannot force: under load runs carried 16 and 2 rows,
        // then 35 and 0; on a quiet CI machine 0 and 0. So carried rows are checked when there are
        // some; PostgresSinkProtocolITCase drives the deferral deterministically (a barrier while
        // the previous transaction is prepared) and restores carried rows after a 2 -> 3 -> 1 rescale.
        carried.forEach((savepoint, rows) -> progress("ledger rows carried in " + savepoint + ": " + rows.size()));
        Set<String> ledgerRows = ledgerPaymentIds();
        carried.forEach((savepoint, rows) -> assertThat(ledgerRows).as("carried rows of %s, applied after the restore", savepoint)
                .containsAll(rows));

        // Resubmissions to the same session cluster run on TaskManagers that ran the job before.
        // ISSUE 10 ITEM 4 (the sink helper's fix, PostgresSink connecting through its own
        // org.postgresql.Driver): without it the ledger sink fails there once with "No suitable
        // driver" from DriverManager and recovers only through a restart; this assertion fails on
        // a branch without that fix. Other restarts (a TaskManager heartbeat lost on an overloaded
        // machine with the suite's 5 s timeout) are recoveries the audit above already covers.
        progress("restarts of the resubmissions: " + flink.restarts(job2) + " at parallelism 3, " + flink.restarts(job3) + " at 1");
        for (String resubmission : List.of(job2, job3)) {
            assertThat(flink.exceptions(resubmission)).as("failures of resubmitted job %s", resubmission)
                    .doesNotContain("No suitable driver");
        }
        progress("passed");
    }

    /**
     * {@code flink run} of the cluster jar. The job checks at submission that the broker answers
     * within 10 s; on the shared 2-core CI machine under heavy load that check has timed out, so a
     * submission refused for that reason alone is tried again, at most three times.
     */
    private String submit(int parallelism, String savepoint) {
        for (int attempt = 1; ; attempt++) {
            try {
                return flink.run(clusterJar, PipelineJob.class.getName(), parallelism, savepoint, jobArgs(parallelism));
            } catch (IllegalStateException e) {
                if (attempt >= 3 || !e.getMessage().contains("cannot reach a Kafka broker")) {
                    throw e;
                }
                progress("flink run refused: the broker did not answer its check in time; submitting again");
            }
        }
    }

    private List<String> jobArgs(int parallelism) {
        return List.of("--bootstrap-servers", bootstrap, "--input-topic", INPUT, "--output-topic", PipelineTestSupport.OUTPUT,
                "--gateway-url", gatewayUrl, "--jdbc-url", jdbcUrl,
                "--parallelism", Integer.toString(parallelism), "--checkpoint-interval", "2s",
                "--retry-attempts", Integer.toString(RETRY_ATTEMPTS), "--retry-initial-backoff", "50ms",
                "--retry-topics", Integer.toString(RETRY_TOPICS), "--retry-topic-delay", "8s", "--retry-topic-multiplier", "2",
                "--ordering", "per-key");
    }

    private void awaitRunning(String jobId) {
        await("job " + jobId + " and all its tasks RUNNING").atMost(PATIENCE).pollInterval(Duration.ofMillis(500))
                .until(() -> flink.allTasksRunning(jobId));
    }

    private CompletableFuture<Void> produce(List<PaymentGenerator.Record> slice, AtomicLong sent) {
        return CompletableFuture.runAsync(() -> PaymentGenerator.send(slice, bootstrap, INPUT, RATE, sent::set));
    }

    /**
     * The first payment of {@value #DESIGNATED_ACCOUNTS} accounts sent an eighth into the slice the
     * savepoint {@code savepoint} (1, 2) is taken in (slice 2, 3), whose id is not sent before.
     */
    private List<String> designate(int savepoint) {
        List<PaymentGenerator.Record> records = plan.records();
        Set<String> seen = new HashSet<>();
        records.subList(0, savepoint * quarter + quarter / 8).forEach(r -> seen.add(eventId(r)));
        Map<String, String> byAccount = new LinkedHashMap<>();
        for (PaymentGenerator.Record r : records.subList(savepoint * quarter + quarter / 8, (savepoint + 1) * quarter)) {
            String id = eventId(r);
            if (id != null && r.key() != null && plan.validIds().contains(id) && seen.add(id) && byAccount.size() < DESIGNATED_ACCOUNTS) {
                byAccount.putIfAbsent(new String(r.key(), StandardCharsets.UTF_8), id);
            }
        }
        return List.copyOf(byAccount.values());
    }

    /** Waits until every one of {@code ids} has a retry record in step 1: they wait in the ladder now. */
    private void awaitInLadder(List<String> ids) {
        await("designated payments " + ids + " in the retry ladder").atMost(PATIENCE).pollInterval(Duration.ofMillis(500))
                .until(() -> TopicReader.readAll(bootstrap, RetryLadder.topic(INPUT, 1), Duration.ofSeconds(30)).stream()
                        .map(r -> header(r, StagewiseHeaders.EVENT_ID)).collect(Collectors.toSet()).containsAll(ids));
    }

    /**
     * {@code stagewise savepoint inspect --json}'s reading of {@code savepoint}: the designated
     * payments wait in the ladder and their accounts' later payments are parked behind them. Also
     * reports the ledger sink's rows carried in the savepoint and PostgreSQL's prepared transactions.
     */
    private SavepointInspection inspect(String savepoint, List<String> designatedIds) throws Exception {
        SavepointInspection inspection = SavepointInspection.read(savepoint);
        ObjectNode json = inspection.toJson();
        Set<String> waiting = new HashSet<>();
        List<String> perStep = new ArrayList<>();
        json.path("retrySteps").fields().forEachRemaining(step -> {
            perStep.add("step " + step.getKey() + ": " + step.getValue().size());
            step.getValue().forEach(w -> waiting.add(w.path("id").asText()));
        });
        int parked = inspection.parkedByKey().values().stream().mapToInt(List::size).sum();
        long prepared = preparedTransactions();
        progress("savepoint inspect --json " + savepoint + ": " + waiting.size() + " waiting in the ladder " + perStep + ", " + parked
                + " parked under " + inspection.parkedByKey().size() + " keys, dedup " + json.path("dedup")
                + "; prepared transactions after the stop: " + prepared);
        // Between two ladder steps a payment runs its next tier of attempts for a moment: under way.
        Set<String> underWay = new HashSet<>(waiting);
        json.path("underWay").forEach(w -> underWay.add(w.path("id").asText()));
        assertThat(underWay).as("designated payments waiting in the ladder (or between two steps) at %s", savepoint)
                .containsAll(designatedIds);
        assertThat(waiting).as("designated payments waiting in the ladder at %s", savepoint).containsAnyElementsOf(designatedIds);
        Map<String, String> accountOf = new HashMap<>();
        inspection.entries().stream().filter(e -> designatedIds.contains(e.eventId)).forEach(e -> accountOf.put(e.eventId, e.key));
        for (String id : designatedIds) {
            assertThat(inspection.parkedByKey().get(accountOf.get(id))).as("payments parked behind %s at %s", id, savepoint).isNotEmpty();
        }
        return inspection;
    }

    private Set<String> ledgerPaymentIds() throws SQLException {
        Set<String> ids = new HashSet<>();
        try (Connection connection = new Driver().connect(jdbcUrl, new Properties());
             Statement statement = connection.createStatement();
             ResultSet rows = statement.executeQuery("SELECT payment_id FROM " + LedgerWriter.LEDGER_TABLE)) {
            while (rows.next()) {
                ids.add(rows.getString(1));
            }
        }
        return ids;
    }

    private long preparedTransactions() throws SQLException {
        try (Connection connection = new Driver().connect(jdbcUrl, new Properties());
             Statement statement = connection.createStatement();
             ResultSet count = statement.executeQuery("SELECT count(*) FROM pg_prepared_xacts")) {
            count.next();
            return count.getLong(1);
        }
    }

    private int inputPosition(String id) {
        List<PaymentGenerator.Record> records = plan.records();
        for (int i = 0; i < records.size(); i++) {
            if (id.equals(eventId(records.get(i)))) {
                return i;
            }
        }
        throw new IllegalArgumentException("not in the input: " + id);
    }

    /** Retry records written before {@code at} and due after it: waiting in the ladder at that moment. */
    private List<String> retriesWaitingAt(long at) {
        List<String> waiting = new ArrayList<>();
        for (int step = 1; step <= RETRY_TOPICS; step++) {
            for (ConsumerRecord<byte[], byte[]> record : TopicReader.readAll(bootstrap, RetryLadder.topic(INPUT, step), Duration.ofSeconds(30))) {
                long dueAt = Long.parseLong(header(record, StagewiseHeaders.RETRY_DUE_AT));
                if (record.timestamp() < at && dueAt > at) {
                    waiting.add(header(record, StagewiseHeaders.EVENT_ID));
                }
            }
        }
        return waiting;
    }

    /** Re-sends of valid records of {@code slice} whose ids were in the committed output. */
    private static List<PaymentGenerator.Record> duplicatesOf(List<PaymentGenerator.Record> slice, Set<String> completed) {
        Map<String, PaymentGenerator.Record> byId = new LinkedHashMap<>();
        for (PaymentGenerator.Record record : slice) {
            String id = eventId(record);
            if (id != null && completed.contains(id)) {
                byId.putIfAbsent(id, record);
            }
        }
        assertThat(byId).as("ids completed before the savepoint").hasSizeGreaterThanOrEqualTo(DUPLICATES_PER_RESCALE);
        return new ArrayList<>(byId.values());
    }

    private static String eventId(PaymentGenerator.Record record) {
        try {
            return JSON.readTree(record.value()).path("id").asText(null);
        } catch (IOException e) {
            return null; // malformed on purpose
        }
    }

    /** Per business key, the output's event ids in the order its partition holds them. */
    private Map<String, List<String>> outputIdsByKey() {
        Map<String, List<String>> byKey = new HashMap<>();
        for (ConsumerRecord<byte[], byte[]> r : TopicReader.readAll(bootstrap, PipelineTestSupport.OUTPUT, Duration.ofSeconds(30))) {
            List<String> ids = byKey.computeIfAbsent(new String(r.key(), StandardCharsets.UTF_8), k -> new ArrayList<>());
            String id = header(r, StagewiseHeaders.EVENT_ID);
            if (!ids.contains(id)) {
                ids.add(id);
            }
        }
        return byKey;
    }

    private Set<String> outputIds() {
        return outputIdCounts().keySet();
    }

    private Map<String, Long> outputIdCounts() {
        return TopicReader.readAll(bootstrap, PipelineTestSupport.OUTPUT, Duration.ofSeconds(30)).stream()
                .collect(Collectors.groupingBy(r -> header(r, StagewiseHeaders.EVENT_ID), Collectors.counting()));
    }

    private static String header(ConsumerRecord<byte[], byte[]> record, String name) {
        var header = record.headers().lastHeader(name);
        return header == null ? null : new String(header.value(), StandardCharsets.UTF_8);
    }

    private Map<String, Integer> effectiveCharges() throws IOException {
        String body = httpGet(gatewayUrl + "/audit/charges").orElseThrow(() -> new IllegalStateException("gateway audit unavailable"));
        return JSON.readValue(body, new TypeReference<Map<String, Integer>>() { });
    }

    private Optional<String> httpGet(String url) {
        try {
            HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(5)).build(),
                    HttpResponse.BodyHandlers.ofString());
            return response.statusCode() == 200 ? Optional.of(response.body()) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        }
    }

    /** Starts {@code service} in a child JVM ({@link ServiceMain}); returns its address once it answers. */
    private String startService(String service, String first, String... more) throws IOException {
        Path ready = tmp.resolve(service + ".address");
        List<String> command = new ArrayList<>(List.of(ChildProcesses.java(), "-Xmx512m",
                "-Djava.io.tmpdir=" + Files.createDirectories(tmp.resolve("jtmp")),
                "-cp", System.getProperty("java.class.path"), ServiceMain.class.getName(), service, first, ready.toString()));
        command.addAll(List.of(more));
        processes.start(service, command, Map.of());
        await(service + " up").atMost(PATIENCE).pollInterval(Duration.ofMillis(200)).until(() -> Files.exists(ready));
        return Files.readString(ready).trim();
    }

    /** The cluster jar the jobs module built ({@code mvn package} or {@code verify} builds it first). */
    private static Path clusterJar() throws IOException {
        Path dir = Path.of(System.getProperty("stagewise.cluster.jar.dir", "../../jobs/target"));
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(f -> f.getFileName().toString().endsWith("-cluster.jar")).findFirst()
                    .orElseThrow(() -> new IllegalStateException("no *-cluster.jar in " + dir.toAbsolutePath()
                            + ": build it with mvn -B -o -pl tools/e2e -am verify (or mvn package)"));
        } catch (NoSuchFileException e) {
            throw new IllegalStateException("no " + dir.toAbsolutePath() + ": build the jobs module first", e);
        }
    }
}
