package io.stagewise.bench;

import io.stagewise.testkit.EmbeddedPostgres;
import io.stagewise.sinks.postgres.PostgresSink;
import io.stagewise.jobs.payments.ledger.LedgerAudit;
import io.stagewise.jobs.payments.ledger.LedgerEntry;
import io.stagewise.jobs.payments.ledger.LedgerEntrySerializer;
import io.stagewise.jobs.payments.ledger.LedgerWriter;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.PipelineOptions;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.configuration.TaskManagerOptions;
import org.apache.flink.runtime.checkpoint.CheckpointStatsSnapshot;
import org.apache.flink.runtime.jobmaster.JobResult;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.minicluster.MiniClusterConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;
import org.apache.flink.streaming.api.graph.StreamingJobGraphGenerator;

/**
 * Measures the exactly-once {@link PostgresSink} (ledger writer) against plain batched autocommit
 * INSERTs of the same rows into the same embedded PostgreSQL, in the same run, and its effect on
 * checkpoint duration against a discarding sink. Not a test: a command.
 *
 * <pre>
 * mvn -q -o -B -pl tools/bench -am package dependency:build-classpath -DskipTests -Dmdep.outputFile=/tmp/bench.cp
 * java [Flink's --add-opens list] -cp tools/bench/target/stagewise-bench-0.1.0-SNAPSHOT.jar:$(cat /tmp/bench.cp) \
 *     io.stagewise.bench.PostgresSinkBenchmark [rows=200000] [accounts=1000] [parallelism=2] [checkpointMs=1000] [rounds=2]
 * </pre>
 */
public final class PostgresSinkBenchmark {
    private static final int JDBC_BATCH = 1_000;

    private final Path dir;
    private final int rows;
    private final int accounts;
    private final int parallelism;
    private final Duration checkpointInterval;

    private PostgresSinkBenchmark(Path dir, int rows, int accounts, int parallelism, Duration checkpointInterval) {
        this.dir = dir;
        this.rows = rows;
        this.accounts = accounts;
        this.parallelism = parallelism;
        this.checkpointInterval = checkpointInterval;
    }

    public static void main(String[] args) throws Exception {
        int rows = args.length > 0 ? Integer.parseInt(args[0]) : 200_000;
        int accounts = args.length > 1 ? Integer.parseInt(args[1]) : 1_000;
        int parallelism = args.length > 2 ? Integer.parseInt(args[2]) : 2;
        Duration interval = Duration.ofMillis(args.length > 3 ? Long.parseLong(args[3]) : 1_000);
        int rounds = args.length > 4 ? Integer.parseInt(args[4]) : 2;
        Path dir = Files.createTempDirectory("stagewise-pgbench-");
        System.out.printf("PostgresSink benchmark: %d rows, %d accounts, parallelism %d, checkpoint interval %d ms, %d rounds%n",
                rows, accounts, parallelism, interval.toMillis(), rounds);
        try (EmbeddedPostgres postgres = EmbeddedPostgres.start(dir.resolve("postgres"))) {
            new PostgresSinkBenchmark(dir, rows, accounts, parallelism, interval).run(postgres.jdbcUrl(), rounds);
        }
    }

    private void run(String url, int rounds) throws Exception {
        Configuration conf = new Configuration();
        conf.set(TaskManagerOptions.NUM_TASK_SLOTS, parallelism);
        MiniCluster flink = new MiniCluster(new MiniClusterConfiguration.Builder()
                .setConfiguration(conf).setNumTaskManagers(1).setNumSlotsPerTaskManager(parallelism).build());
        flink.start();
        try {
            List<Double> plain = new ArrayList<>();
            List<Double> sink = new ArrayList<>();
            List<Double> discard = new ArrayList<>();
            List<Double> sinkCheckpoint = new ArrayList<>();
            List<Double> discardCheckpoint = new ArrayList<>();
            for (int round = 1; round <= rounds; round++) {
                reset(url);
                plain.add(plainInserts(url));
                audit(url, "plain INSERTs");
                reset(url);
                Run withSink = job(flink, PostgresSink.<LedgerEntry>builder()
                        .setJdbcUrl(url).setTransactionIdPrefix("bench-" + round)
                        .setRowWriter(new LedgerWriter()).setRowSerializer(new LedgerEntrySerializer()).build());
                audit(url, "PostgresSink");
                Run withDiscard = job(flink, new DiscardingSink<>());
                sink.add(withSink.rowsPerSecond);
                discard.add(withDiscard.rowsPerSecond);
                sinkCheckpoint.add(withSink.avgCheckpointMs);
                discardCheckpoint.add(withDiscard.avgCheckpointMs);
                System.out.printf("round %d: plain INSERTs %.0f rows/s | PostgresSink %.0f rows/s (%d checkpoints, avg %.0f ms) "
                                + "| DiscardingSink %.0f rows/s (%d checkpoints, avg %.0f ms)%n",
                        round, plain.get(round - 1), withSink.rowsPerSecond, withSink.checkpoints, withSink.avgCheckpointMs,
                        withDiscard.rowsPerSecond, withDiscard.checkpoints, withDiscard.avgCheckpointMs);
            }
            double p = median(plain);
            double s = median(sink);
            System.out.printf("%nmedian over %d rounds:%n", rounds);
            System.out.printf("  plain batched autocommit INSERTs (%d threads, batches of %d): %.0f rows/s%n", parallelism, JDBC_BATCH, p);
            System.out.printf("  Flink job -> PostgresSink (exactly once):                    %.0f rows/s (ratio sink/plain %.2f)%n", s, s / p);
            System.out.printf("  Flink job -> DiscardingSink (same source, keyBy):           %.0f rows/s%n", median(discard));
            System.out.printf("  average checkpoint duration: PostgresSink %.0f ms, DiscardingSink %.0f ms%n",
                    median(sinkCheckpoint), median(discardCheckpoint));
        } finally {
            flink.close();
        }
    }

    static LedgerEntry entry(long i, int accounts) {
        return new LedgerEntry(String.format("pay-%09d", i), "evt-" + i, "acct-" + (i % accounts),
                BigDecimal.valueOf((i * 7919L) % 10_000 + 1, 2), "EUR", "ch_" + i, Instant.ofEpochSecond(1_700_000_000L + i));
    }

    /** The same rows and statements as the sink (LedgerWriter), autocommit, batches, one thread per would-be subtask. */
    private double plainInserts(String url) throws Exception {
        LedgerWriter writer = new LedgerWriter();
        ExecutorService threads = Executors.newFixedThreadPool(parallelism);
        long start = System.nanoTime();
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < parallelism; t++) {
                int thread = t;
                done.add(threads.submit(() -> {
                    try (Connection c = DriverManager.getConnection(url)) {
                        List<LedgerEntry> batch = new ArrayList<>(JDBC_BATCH);
                        for (long i = 0; i < rows; i++) {
                            // Same partitioning as keyBy(account): an account's rows stay in one thread.
                            if ((i % accounts) % parallelism != thread) {
                                continue;
                            }
                            batch.add(entry(i, accounts));
                            if (batch.size() == JDBC_BATCH) {
                                writer.write(c, batch);
                                batch.clear();
                            }
                        }
                        if (!batch.isEmpty()) {
                            writer.write(c, batch);
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get();
            }
        } finally {
            threads.shutdown();
        }
        return rows / ((System.nanoTime() - start) / 1e9);
    }

    private record Run(double rowsPerSecond, long checkpoints, double avgCheckpointMs) {}

    private Run job(MiniCluster flink, Sink<LedgerEntry> sink) throws Exception {
        Configuration conf = new Configuration();
        conf.set(CheckpointingOptions.CHECKPOINTING_INTERVAL, checkpointInterval);
        conf.set(CheckpointingOptions.CHECKPOINTS_DIRECTORY, dir.resolve("checkpoints").toUri().toString());
        conf.set(PipelineOptions.GENERIC_TYPES, false);
        conf.set(RestartStrategyOptions.RESTART_STRATEGY, "none");
        StreamExecutionEnvironment env = new StreamExecutionEnvironment(conf);
        env.setParallelism(parallelism);
        int accountCount = accounts;
        env.fromSequence(0, rows - 1).uid("bench-sequence")
                .map(i -> entry(i, accountCount)).returns(TypeInformation.of(LedgerEntry.class)).uid("bench-entries")
                .keyBy(e -> e.account, Types.STRING)
                .sinkTo(sink).uid("bench-sink").name("bench sink");
        long start = System.nanoTime();
        JobID id = flink.submitJob(StreamingJobGraphGenerator.createJobGraph(env.getStreamGraph())).get().getJobID();
        JobResult result = flink.requestJobResult(id).get();
        double seconds = (System.nanoTime() - start) / 1e9;
        if (!result.isSuccess()) {
            throw new IllegalStateException("benchmark job failed", result.getSerializedThrowable().get());
        }
        CheckpointStatsSnapshot stats = flink.getArchivedExecutionGraph(id).get().getCheckpointStatsSnapshot();
        return new Run(rows / seconds, stats.getCounts().getNumberOfCompletedCheckpoints(),
                stats.getSummaryStats().getEndToEndDurationStats().getAverage());
    }

    private static void reset(String url) throws Exception {
        try (Connection c = DriverManager.getConnection(url); Statement st = c.createStatement()) {
            new LedgerWriter().createSchema(c);
            st.execute("DROP TABLE IF EXISTS stagewise_sink_commits");
            st.execute("TRUNCATE ledger, balances");
        }
    }

    private void audit(String url, String what) throws Exception {
        try (Connection c = DriverManager.getConnection(url)) {
            LedgerAudit.Result result = LedgerAudit.check(c, null, rows);
            if (!result.ok()) {
                throw new IllegalStateException(what + ": " + result);
            }
        }
    }

    private static double median(List<Double> values) {
        List<Double> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }
}
