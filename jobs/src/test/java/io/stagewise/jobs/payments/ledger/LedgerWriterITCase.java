package io.stagewise.jobs.payments.ledger;

import static org.assertj.core.api.Assertions.assertThat;

import io.stagewise.jobs.payments.PaymentsLedger;
import io.stagewise.testkit.EmbeddedPostgres;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.PipelineOptions;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.SimpleCounter;
import org.apache.flink.metrics.groups.UnregisteredMetricsGroup;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The ledger applies a payment at most once without ever failing the sink (docs/payments.md): a
 * payment completed a second time (its id seen again after the dedup TTL, a repeated DLQ replay)
 * is skipped, its balance delta not applied, and counted in {@code stagewise.ledgerConflicts}.
 * Real PostgreSQL, real Flink MiniCluster.
 */
class LedgerWriterITCase {
    @RegisterExtension
    static final MiniClusterExtension FLINK = new MiniClusterExtension(new MiniClusterResourceConfiguration.Builder()
            .setNumberTaskManagers(1).setNumberSlotsPerTaskManager(2).build());

    private static EmbeddedPostgres postgres;

    @BeforeAll
    static void startPostgres() {
        postgres = EmbeddedPostgres.startInTempDir(16);
    }

    @AfterAll
    static void stopPostgres() {
        postgres.close();
    }

    private static LedgerEntry payment(int i) {
        return new LedgerEntry(String.format("pay-%04d", i), String.format("pay-%04d", i), "acct-" + (i % 3),
                BigDecimal.valueOf(100 + i, 2), "EUR", "ch_" + i, Instant.ofEpochMilli(1_700_000_000_000L + i));
    }

    @Test
    void aPaymentCompletedTwiceIsAppliedOnceAndTheJobKeepsRunning() throws Exception {
        String url = postgres.newDatabase();
        List<LedgerEntry> first = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            first.add(payment(i));
        }
        first.add(payment(5)); // the same payment twice in one checkpoint's transaction
        first.add(payment(17));
        runLedgerJob(url, "ledger-first", first);

        // A later run completes some of them again (their ids came back after the dedup TTL).
        List<LedgerEntry> again = new ArrayList<>();
        for (int i = 30; i < 50; i++) {
            again.add(payment(i));
        }
        runLedgerJob(url, "ledger-again", again);

        Map<String, BigDecimal> expected = new TreeMap<>();
        for (int i = 0; i < 50; i++) {
            expected.merge(payment(i).account, payment(i).amount, BigDecimal::add);
        }
        try (Connection c = EmbeddedPostgres.connect(url)) {
            assertThat(count(c, "SELECT count(*) FROM ledger")).isEqualTo(50);
            assertThat(count(c, "SELECT count(DISTINCT payment_id) FROM ledger")).isEqualTo(50);
            assertThat(balances(c)).isEqualTo(stripped(expected));
            assertThat(count(c, "SELECT count(*) FROM pg_prepared_xacts")).isZero();
        }
    }

    @Test
    void conflictsAreSkippedWithoutTheirBalanceDeltaAndCounted() throws Exception {
        String url = postgres.newDatabase();
        LedgerWriter writer = new LedgerWriter();
        Map<String, Counter> counters = new HashMap<>();
        writer.open(new UnregisteredMetricsGroup() {
            @Override
            public Counter counter(String name) {
                return counters.computeIfAbsent(name, n -> new SimpleCounter());
            }
        });
        try (Connection c = EmbeddedPostgres.connect(url)) {
            c.setAutoCommit(false);
            writer.createSchema(c);
            writer.write(c, List.of(payment(1), payment(2), payment(1)));
            c.commit();
            writer.write(c, List.of(payment(2), payment(4), payment(7), payment(4)));
            c.commit();
            c.setAutoCommit(true);
            assertThat(count(c, "SELECT count(*) FROM ledger")).isEqualTo(4);
            assertThat(balances(c)).isEqualTo(stripped(Map.of(
                    "acct-1", payment(1).amount.add(payment(4).amount).add(payment(7).amount),
                    "acct-2", payment(2).amount)));
        }
        assertThat(counters.get("ledgerConflicts").getCount()).isEqualTo(3);
    }

    private static void runLedgerJob(String url, String prefix, List<LedgerEntry> entries) throws Exception {
        Configuration conf = new Configuration();
        conf.set(CheckpointingOptions.CHECKPOINTING_INTERVAL, Duration.ofMillis(200));
        conf.set(PipelineOptions.GENERIC_TYPES, false);
        conf.set(RestartStrategyOptions.RESTART_STRATEGY, "none");
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(conf);
        env.setParallelism(2);
        env.fromData(entries, TypeInformation.of(LedgerEntry.class)).uid("entries")
                .keyBy(e -> e.account, Types.STRING)
                .sinkTo(PaymentsLedger.sink(new PaymentsLedger.Database(url, "postgres", ""), prefix))
                .uid("ledger-sink").name("Ledger");
        env.executeAsync("ledger-" + prefix).getJobExecutionResult().get(90, TimeUnit.SECONDS);
    }

    private static long count(Connection c, String sql) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static Map<String, BigDecimal> balances(Connection c) throws SQLException {
        Map<String, BigDecimal> result = new TreeMap<>();
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT account, balance FROM balances")) {
            while (rs.next()) {
                result.put(rs.getString(1), rs.getBigDecimal(2).stripTrailingZeros());
            }
        }
        return result;
    }

    private static Map<String, BigDecimal> stripped(Map<String, BigDecimal> sums) {
        Map<String, BigDecimal> result = new TreeMap<>();
        sums.forEach((k, v) -> result.put(k, v.stripTrailingZeros()));
        return result;
    }
}
