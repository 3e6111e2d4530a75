package io.stagewise.sinks.postgres;

import io.stagewise.sinks.postgres.fixture.Transfer;
import io.stagewise.sinks.postgres.fixture.TransferSerializer;
import io.stagewise.sinks.postgres.fixture.TransferWriter;
import io.stagewise.sinks.postgres.fixture.Transfers;
import io.stagewise.testkit.EmbeddedPostgres;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.stagewise.sinks.postgres.internal.FaultInjection;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.PipelineOptions;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.configuration.StateRecoveryOptions;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.connector.datagen.source.GeneratorFunction;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The PostgresSink in a real Flink MiniCluster against a real PostgreSQL: a deterministic,
 * rate-limited, checkpointed source of ledger entries, keyed by account, into the sink; crashes
 * injected at each protocol point, a PostgreSQL restart, killed connections, a server without
 * prepared transactions, and hot accounts under short checkpoint intervals. After each run the
 * audit of docs/audit.md (invariant 2) must hold exactly.
 */
class PostgresSinkITCase {
    static final int PARALLELISM = 2;
    static final String SINK_UID = "stagewise-ledger-sink";

    @RegisterExtension
    static final MiniClusterExtension FLINK = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
            .setNumberTaskManagers(1)
            .setNumberSlotsPerTaskManager(3)
            .build());

    private static EmbeddedPostgres postgres;

    @BeforeAll
    static void startPostgres() {
        postgres = EmbeddedPostgres.startInTempDir(64);
    }

    @AfterAll
    static void stopPostgres() {
        postgres.close();
    }

    /** Crash once at each protocol point (subtask 0, first attempt, from checkpoint 3 on); recover exactly. */
    @ParameterizedTest
    @EnumSource(FaultInjection.Point.class)
    void recoversExactlyFromACrashAt(FaultInjection.Point point) throws Exception {
        String url = postgres.newDatabase();
        String prefix = "crash-" + point.name().toLowerCase().replace('_', '-');
        Plan plan = new Plan(1_500, 6, 1_000);
        AtomicInteger fired = new AtomicInteger();
        try (AutoCloseable hook = FaultInjection.installForTest(site -> {
            if (site.point() == point && site.sink().equals(prefix) && site.subtask() == 0 && site.checkpointId() >= 3
                    && fired.compareAndSet(0, 1)) {
                throw new InjectedCrash("injected crash at " + site);
            }
        })) {
            JobClient job = submit(plan, url, prefix, Duration.ofMillis(150), 10);
            awaitJob(job, Duration.ofSeconds(90));
        }
        assertThat(fired).as("the crash at %s was injected", point).hasValue(1);
        assertExactlyOnce(url, prefix, plan);
    }

    @Test
    void survivesKilledConnections() throws Exception {
        String url = postgres.newDatabase();
        String prefix = "killed";
        Plan plan = new Plan(2_500, 6, 1_000);
        JobClient job = submit(plan, url, prefix, Duration.ofMillis(150), 20);
        int killed = 0;
        for (long progress : new long[] {200, 800, 1_500}) {
            await().atMost(Duration.ofSeconds(60)).until(() -> ledgerRows(url) >= progress);
            killed += terminateSinkBackends(url, prefix);
        }
        awaitJob(job, Duration.ofSeconds(90));
        assertThat(killed).as("sink connections terminated").isGreaterThanOrEqualTo(3);
        assertExactlyOnce(url, prefix, plan);
    }

    @Test
    void survivesAPostgresRestartMidRun() throws Exception {
        String url = postgres.newDatabase();
        String prefix = "restart";
        Plan plan = new Plan(2_500, 6, 1_000);
        JobClient job = submit(plan, url, prefix, Duration.ofMillis(150), 40);
        await().atMost(Duration.ofSeconds(60)).until(() -> ledgerRows(url) >= 500);
        postgres.restart();
        awaitJob(job, Duration.ofSeconds(120));
        assertExactlyOnce(url, prefix, plan);
    }

    @Test
    void hotAccountsWithShortCheckpointsNeverHang() throws Exception {
        String url = postgres.newDatabase();
        String prefix = "hot";
        // Two accounts, so every checkpoint of a subtask updates the same balance row as the one before.
        Plan plan = new Plan(3_000, 2, 2_000);
        JobClient job = submit(plan, url, prefix, Duration.ofMillis(50), 0);
        awaitJob(job, Duration.ofSeconds(60));
        assertExactlyOnce(url, prefix, plan);
        try (Connection c = EmbeddedPostgres.connect(url); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT count(*) FROM stagewise_sink_commits WHERE sink = 'hot'")) {
            rs.next();
            assertThat(rs.getLong(1)).as("transactions committed across many checkpoints").isGreaterThan(10);
        }
    }

    /**
     * Issue 9 #6 in a real MiniCluster: stop with a savepoint and restore at another parallelism,
     * 2 -> 3 -> 1, with two hot accounts and short checkpoints (so savepoints can hold carried-over
     * rows, which Flink then hands out round-robin). No restore may wait on a lock (no failover:
     * restarts are off), and the ledger must be exact.
     */
    @Test
    void rescalesTwoThreeOneFromSavepointsExactly(@TempDir Path savepoints) throws Exception {
        String url = postgres.newDatabase();
        String prefix = "rescale";
        Plan plan = new Plan(12_000, 2, 1_000);
        JobClient job = submit(plan, url, prefix, Duration.ofMillis(50), -1, 2, null);
        await().atMost(Duration.ofSeconds(60)).until(() -> ledgerRows(url) >= 1_000);
        String first = job.stopWithSavepoint(false, savepoints.toUri().toString(), SavepointFormatType.CANONICAL)
                .get(60, TimeUnit.SECONDS);
        job = submit(plan, url, prefix, Duration.ofMillis(50), -1, 3, first);
        long atRescale = ledgerRows(url);
        await().atMost(Duration.ofSeconds(60)).until(() -> ledgerRows(url) >= atRescale + 1_000);
        assertThat(job.getJobStatus().get(10, TimeUnit.SECONDS)).as("still running at the second rescale")
                .isEqualTo(JobStatus.RUNNING);
        String second = job.stopWithSavepoint(false, savepoints.toUri().toString(), SavepointFormatType.CANONICAL)
                .get(60, TimeUnit.SECONDS);
        job = submit(plan, url, prefix, Duration.ofMillis(50), -1, 1, second);
        awaitJob(job, Duration.ofSeconds(90));
        assertExactlyOnce(url, prefix, plan);
        try (Connection c = EmbeddedPostgres.connect(url); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT count(DISTINCT lineage) FROM stagewise_sink_commits WHERE sink = 'rescale'")) {
            rs.next();
            assertThat(rs.getLong(1)).as("one lineage per run").isEqualTo(3);
        }
    }

    @Test
    void refusesToStartWithoutPreparedTransactionsAndWritesNothing() throws Exception {
        try (EmbeddedPostgres noPrepared = EmbeddedPostgres.startInTempDir(0)) {
            String url = noPrepared.newDatabase();
            assertThatThrownBy(() -> PostgresSink.checkServer(url, "postgres", "", PARALLELISM))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("max_prepared_transactions is 0")
                    .hasMessageContaining("needs at least 4")
                    .hasMessageContaining("postgresql.conf")
                    .hasMessageContaining("restart");

            JobClient job = submit(new Plan(500, 3, 1_000), url, "noprep", Duration.ofMillis(150), -1);
            assertThatThrownBy(() -> job.getJobExecutionResult().get(60, TimeUnit.SECONDS))
                    .rootCause()
                    .hasMessageContaining("max_prepared_transactions is 0")
                    .hasMessageContaining("postgresql.conf");
            assertThat(ledgerRows(url)).as("no ledger data written").isZero();
        }
    }

    // ------------------------------------------------------------------------------------------

    /** {@code rows} payments over {@code accounts} accounts, emitted at {@code rowsPerSecond}. */
    record Plan(int rows, int accounts, int rowsPerSecond) {
        Map<String, BigDecimal> expectedSums() {
            Map<String, BigDecimal> sums = new TreeMap<>();
            for (long i = 0; i < rows; i++) {
                Transfer e = Generator.entry(i, accounts);
                sums.merge(e.account, e.amount, BigDecimal::add);
            }
            return sums;
        }
    }

    /** Deterministic ledger entries from the sequence number. */
    static final class Generator implements GeneratorFunction<Long, Transfer> {
        private static final long serialVersionUID = 1L;
        private final int accounts;

        Generator(int accounts) {
            this.accounts = accounts;
        }

        @Override
        public Transfer map(Long i) {
            return entry(i, accounts);
        }

        static Transfer entry(long i, int accounts) {
            return new Transfer(String.format("pay-%06d", i), "acct-" + (i % accounts),
                    BigDecimal.valueOf((i * 7919L) % 10_000 + 1, 2));
        }
    }

    /**
     * @param restartAttempts fixed-delay restarts allowed; negative: no restarts at all
     */
    static JobClient submit(Plan plan, String url, String prefix, Duration checkpointInterval, int restartAttempts)
            throws Exception {
        return submit(plan, url, prefix, checkpointInterval, restartAttempts, PARALLELISM, null);
    }

    /** @param savepoint restore from it; null: start without state */
    static JobClient submit(Plan plan, String url, String prefix, Duration checkpointInterval, int restartAttempts,
            int parallelism, String savepoint) throws Exception {
        Configuration conf = new Configuration();
        if (savepoint != null) {
            conf.set(StateRecoveryOptions.SAVEPOINT_PATH, savepoint);
        }
        conf.set(CheckpointingOptions.CHECKPOINTING_INTERVAL, checkpointInterval);
        conf.set(PipelineOptions.GENERIC_TYPES, false);
        if (restartAttempts < 0) {
            conf.set(RestartStrategyOptions.RESTART_STRATEGY, "none");
        } else {
            conf.set(RestartStrategyOptions.RESTART_STRATEGY, "fixed-delay");
            conf.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS, Math.max(restartAttempts, 1));
            conf.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_DELAY, Duration.ofMillis(300));
        }
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(conf);
        env.setParallelism(parallelism);
        DataGeneratorSource<Transfer> source = new DataGeneratorSource<>(new Generator(plan.accounts()), plan.rows(),
                RateLimiterStrategy.perSecond(plan.rowsPerSecond()), TypeInformation.of(Transfer.class));
        env.fromSource(source, WatermarkStrategy.noWatermarks(), "Ledger entries")
                .uid("ledger-entries")
                .keyBy(e -> e.account, Types.STRING)
                .sinkTo(PostgresSink.<Transfer>builder()
                        .setJdbcUrl(url)
                        .setUsername("postgres")
                        .setPassword("")
                        .setTransactionIdPrefix(prefix)
                        .setRowWriter(new TransferWriter())
                        .setRowSerializer(new TransferSerializer())
                        .setLockTimeout(Duration.ofSeconds(5))
                        .build())
                .uid(SINK_UID)
                .name("Ledger (PostgreSQL, exactly once)");
        return env.executeAsync("postgres-sink-" + prefix);
    }

    static JobExecutionResult awaitJob(JobClient job, Duration deadline) throws Exception {
        return job.getJobExecutionResult().get(deadline.toMillis(), TimeUnit.MILLISECONDS);
    }

    static void assertExactlyOnce(String url, String prefix, Plan plan) throws SQLException {
        try (Connection c = EmbeddedPostgres.connect(url)) {
            assertThat(Transfers.audit(c, plan.expectedSums(), plan.rows())).isEmpty();
            try (Statement st = c.createStatement();
                    ResultSet rs = st.executeQuery("SELECT count(*) FROM pg_prepared_xacts WHERE gid LIKE '" + prefix + "-%'")) {
                rs.next();
                assertThat(rs.getLong(1)).as("prepared transactions left by " + prefix).isZero();
            }
        }
    }

    static long ledgerRows(String url) {
        try (Connection c = EmbeddedPostgres.connect(url)) {
            return Transfers.rows(c);
        } catch (SQLException e) {
            return -1; // the server may be restarting
        }
    }

    static int terminateSinkBackends(String url, String prefix) throws SQLException {
        try (Connection c = EmbeddedPostgres.connect(url); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                        + "WHERE application_name LIKE 'stagewise-sink:" + prefix + ":%'")) {
            rs.next();
            return rs.getInt(1);
        }
    }

    /** Thrown by the fault hook; recognisable in logs. */
    static final class InjectedCrash extends RuntimeException {
        private static final long serialVersionUID = 1L;

        InjectedCrash(String message) {
            super(message);
        }
    }
}
