package io.stagewise.jobs.reconcile;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.stagewise.jobs.StagewiseException;
import io.stagewise.jobs.audit.Classification.IdClass;
import io.stagewise.jobs.payments.PaymentsLedger;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Periodic mode's memory (docs/reconcile.md), in three small tables of its own:
 * <ol>
 *   <li>{@value #POSITIONS}: per topic (input, output, DLQ) and partition, the end offset the last
 *       run read up to; the next run reads each topic from there;
 *   <li>{@value #CARRY}: the Kafka evidence of every id the last run did not find {@code completed}
 *       (in-flight, dead-lettered, discrepancies, records not from the input), carried into the next
 *       run and merged with that run's evidence; removed once the id is completed;
 *   <li>{@value #RUNS}: one row per run: its counts per class (the HTML report's chart) and the
 *       ledger database's snapshot, which tells the next run which ledger rows are older than it.
 * </ol>
 * All three are written after the run and its repair, in one transaction: a run that fails stores
 * nothing and the next one covers its window again.
 */
public final class ReconcileState {
    public static final String POSITIONS = "stagewise_reconcile_positions";
    public static final String CARRY = "stagewise_reconcile_carry";
    public static final String RUNS = "stagewise_reconcile_runs";
    /** Runs shown in the HTML report's chart. */
    public static final int HISTORY = 50;

    private static final ObjectMapper JSON = new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

    private final PaymentsLedger.Database database;

    public ReconcileState(PaymentsLedger.Database database) {
        this.database = database;
    }

    /**
     * What the last run left for the next.
     *
     * @param positions per topic and partition, where the next run starts reading; empty: no run yet
     *     (the next run reads everything)
     * @param ledgerSnapshot the ledger database's snapshot at the last run's watermark
     * @param carried how many ids the last run did not find completed; the job reads their Kafka
     *     evidence from {@value #CARRY} in parallel ({@link #carriedQuery})
     * @param database where the tables are
     */
    public record Previous(Map<String, Map<Integer, Long>> positions, Optional<PgSnapshot> ledgerSnapshot,
                           long carried, PaymentsLedger.Database database) {
        public boolean windowed() {
            return !positions.isEmpty() && ledgerSnapshot.isPresent();
        }
    }

    /**
     * The carried tallies of {@code inputTopic}, as {@link HashRangeJdbcSource} reads them: one split per
     * hash range of the event id, so a large carry (dead letters waiting for a replay) never passes
     * through the client or the job graph.
     */
    static String carriedQuery(String inputTopic) {
        return HashRangeJdbcSource.byHash("SELECT tally FROM (SELECT event_id, tally FROM " + CARRY + " WHERE input_topic = '"
                + inputTopic.replace("'", "''") + "') carried", "event_id", null);
    }

    /** One row of {@link #carriedQuery}. */
    static Tally carriedRow(ResultSet row) throws SQLException {
        try {
            return JSON.readValue(row.getString(1), Tally.class);
        } catch (JsonProcessingException e) {
            throw new SQLException("table " + CARRY + " holds a row that is not a carried tally: " + e.getOriginalMessage(), e);
        }
    }

    /** One past run, for the chart: its time and ids per class. */
    public record RunPoint(String runId, long at, Map<IdClass, Long> counts, long balanceMismatches, long strays) {}

    public Previous load(String inputTopic) {
        Map<String, Map<Integer, Long>> positions = new LinkedHashMap<>();
        long carried = 0;
        Optional<PgSnapshot> snapshot = Optional.empty();
        try (Connection c = connect()) {
            createTables(c);
            try (PreparedStatement st = c.prepareStatement("SELECT topic, partition, next_offset FROM " + POSITIONS
                    + " WHERE input_topic = ?")) {
                st.setString(1, inputTopic);
                try (ResultSet rs = st.executeQuery()) {
                    while (rs.next()) {
                        positions.computeIfAbsent(rs.getString(1), t -> new TreeMap<>()).put(rs.getInt(2), rs.getLong(3));
                    }
                }
            }
            try (PreparedStatement st = c.prepareStatement("SELECT ledger_snapshot FROM " + RUNS
                    + " WHERE input_topic = ? ORDER BY at DESC, run_id DESC LIMIT 1")) {
                st.setString(1, inputTopic);
                try (ResultSet rs = st.executeQuery()) {
                    if (rs.next() && rs.getString(1) != null) {
                        snapshot = Optional.of(PgSnapshot.parse(rs.getString(1)));
                    }
                }
            }
            try (PreparedStatement st = c.prepareStatement("SELECT count(*) FROM " + CARRY + " WHERE input_topic = ?")) {
                st.setString(1, inputTopic);
                try (ResultSet rs = st.executeQuery()) {
                    rs.next();
                    carried = rs.getLong(1);
                }
            }
        } catch (SQLException e) {
            throw failed("read", e);
        }
        return new Previous(positions, snapshot, carried, database);
    }

    /**
     * Stores one run: where the next starts (the watermark's end offsets), the ids to carry, the
     * ids no longer carried, and the run's counts.
     */
    public void store(String inputTopic, ReconcileReport report, Map<String, Map<Integer, Long>> endOffsets,
                      PgSnapshot ledgerSnapshot, List<Tally> carry, List<String> settled) {
        try (Connection c = connect()) {
            createTables(c);
            c.setAutoCommit(false);
            try (PreparedStatement st = c.prepareStatement("INSERT INTO " + POSITIONS
                    + " (input_topic, topic, partition, next_offset, run_id, at) VALUES (?, ?, ?, ?, ?, now())"
                    + " ON CONFLICT (input_topic, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset,"
                    + " run_id = EXCLUDED.run_id, at = EXCLUDED.at")) {
                for (Map.Entry<String, Map<Integer, Long>> topic : endOffsets.entrySet()) {
                    for (Map.Entry<Integer, Long> e : topic.getValue().entrySet()) {
                        st.setString(1, inputTopic);
                        st.setString(2, topic.getKey());
                        st.setInt(3, e.getKey());
                        st.setLong(4, e.getValue());
                        st.setString(5, report.runId());
                        st.addBatch();
                    }
                }
                st.executeBatch();
            }
            try (PreparedStatement st = c.prepareStatement("DELETE FROM " + CARRY + " WHERE input_topic = ? AND event_id = ?")) {
                for (String id : settled) {
                    st.setString(1, inputTopic);
                    st.setString(2, id);
                    st.addBatch();
                }
                st.executeBatch();
            }
            try (PreparedStatement st = c.prepareStatement("INSERT INTO " + CARRY + " (input_topic, event_id, tally, run_id)"
                    + " VALUES (?, ?, ?, ?) ON CONFLICT (input_topic, event_id) DO UPDATE SET tally = EXCLUDED.tally,"
                    + " run_id = EXCLUDED.run_id")) {
                for (Tally tally : carry) {
                    st.setString(1, inputTopic);
                    st.setString(2, tally.id);
                    st.setString(3, JSON.writeValueAsString(tally));
                    st.setString(4, report.runId());
                    st.addBatch();
                }
                st.executeBatch();
            }
            try (PreparedStatement st = c.prepareStatement("INSERT INTO " + RUNS + " (input_topic, run_id, at, counts,"
                    + " balance_mismatches, not_from_input, ledger_snapshot) VALUES (?, ?, ?, ?, ?, ?, ?)")) {
                Map<String, Long> counts = new LinkedHashMap<>();
                for (IdClass idClass : IdClass.values()) {
                    counts.put(idClass.name(), report.count(idClass));
                }
                st.setString(1, inputTopic);
                st.setString(2, report.runId());
                st.setTimestamp(3, new Timestamp(report.at()));
                st.setString(4, JSON.writeValueAsString(counts));
                st.setLong(5, report.balanceMismatches());
                st.setLong(6, report.strays());
                st.setString(7, ledgerSnapshot == null ? null : ledgerSnapshot.toString());
                st.executeUpdate();
            }
            c.commit();
        } catch (SQLException e) {
            throw failed("write", e);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write a carried tally as JSON", e);
        }
    }

    /** The last {@code limit} runs, oldest first. */
    public List<RunPoint> history(String inputTopic, int limit) {
        List<RunPoint> points = new ArrayList<>();
        try (Connection c = connect()) {
            createTables(c);
            try (PreparedStatement st = c.prepareStatement("SELECT run_id, at, counts, balance_mismatches, not_from_input FROM "
                    + RUNS + " WHERE input_topic = ? ORDER BY at DESC, run_id DESC LIMIT ?")) {
                st.setString(1, inputTopic);
                st.setInt(2, limit);
                try (ResultSet rs = st.executeQuery()) {
                    while (rs.next()) {
                        Map<IdClass, Long> counts = new EnumMap<>(IdClass.class);
                        Map<String, Long> stored = JSON.readValue(rs.getString(3), new TypeReference<Map<String, Long>>() { });
                        for (IdClass idClass : IdClass.values()) {
                            counts.put(idClass, stored.getOrDefault(idClass.name(), 0L));
                        }
                        points.add(new RunPoint(rs.getString(1), rs.getTimestamp(2).getTime(), counts, rs.getLong(4), rs.getLong(5)));
                    }
                }
            }
        } catch (SQLException e) {
            throw failed("read", e);
        } catch (JsonProcessingException e) {
            throw new StagewiseException("table " + RUNS + " holds counts that are not JSON: " + e.getOriginalMessage(), e);
        }
        Collections.reverse(points);
        return points;
    }

    private Connection connect() throws SQLException {
        return database.connect("stagewise-reconcile");
    }

    private static void createTables(Connection c) throws SQLException {
        try (Statement st = c.createStatement()) {
            st.execute("CREATE TABLE IF NOT EXISTS " + POSITIONS + " (input_topic text NOT NULL, topic text NOT NULL,"
                    + " partition integer NOT NULL, next_offset bigint NOT NULL, run_id text NOT NULL, at timestamptz NOT NULL,"
                    + " PRIMARY KEY (input_topic, topic, partition))");
            st.execute("CREATE TABLE IF NOT EXISTS " + CARRY + " (input_topic text NOT NULL, event_id text NOT NULL,"
                    + " tally text NOT NULL, run_id text NOT NULL, PRIMARY KEY (input_topic, event_id))");
            st.execute("CREATE TABLE IF NOT EXISTS " + RUNS + " (input_topic text NOT NULL, run_id text NOT NULL,"
                    + " at timestamptz NOT NULL, counts text NOT NULL, balance_mismatches bigint NOT NULL,"
                    + " not_from_input bigint NOT NULL, ledger_snapshot text, PRIMARY KEY (input_topic, run_id))");
        }
    }

    private StagewiseException failed(String what, SQLException e) {
        return new StagewiseException("cannot " + what + " periodic reconciliation's tables (" + POSITIONS + ", " + CARRY
                + ", " + RUNS + ") at " + database + " (--state-jdbc-url, or --jdbc-url): " + e.getMessage(), e);
    }
}
