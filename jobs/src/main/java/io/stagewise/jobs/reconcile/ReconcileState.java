package io.stagewise.jobs.reconcile;

import io.stagewise.jobs.StagewiseException;
import io.stagewise.jobs.payments.PaymentsLedger;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Map;
import java.util.TreeMap;

/**
 * Periodic mode's memory: per input topic and partition, the offset the next run starts reading the
 * input from, in a small table of its own ({@value #TABLE}). A run stores, per partition, the
 * original offset of its earliest {@code in-flight} id (so that id is classified again once it has
 * settled) or else the watermark's end offset. Written after the run and its repair, in one
 * transaction: a run that fails stores nothing and the next one covers its window again.
 */
public final class ReconcileState {
    public static final String TABLE = "stagewise_reconcile_offsets";

    private final PaymentsLedger.Database database;

    public ReconcileState(PaymentsLedger.Database database) {
        this.database = database;
    }

    /** Where the next run starts, per partition; empty: from the beginning. */
    public Map<Integer, Long> load(String inputTopic) {
        Map<Integer, Long> offsets = new TreeMap<>();
        try (Connection c = connect()) {
            createTable(c);
            try (PreparedStatement st = c.prepareStatement("SELECT partition, next_offset FROM " + TABLE + " WHERE input_topic = ?")) {
                st.setString(1, inputTopic);
                try (ResultSet rs = st.executeQuery()) {
                    while (rs.next()) {
                        offsets.put(rs.getInt(1), rs.getLong(2));
                    }
                }
            }
        } catch (SQLException e) {
            throw failed("read", e);
        }
        return offsets;
    }

    public void store(String inputTopic, Map<Integer, Long> next, String runId) {
        try (Connection c = connect()) {
            createTable(c);
            c.setAutoCommit(false);
            try (PreparedStatement st = c.prepareStatement("INSERT INTO " + TABLE
                    + " (input_topic, partition, next_offset, run_id, at) VALUES (?, ?, ?, ?, now())"
                    + " ON CONFLICT (input_topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset,"
                    + " run_id = EXCLUDED.run_id, at = EXCLUDED.at")) {
                for (Map.Entry<Integer, Long> e : next.entrySet()) {
                    st.setString(1, inputTopic);
                    st.setInt(2, e.getKey());
                    st.setLong(3, e.getValue());
                    st.setString(4, runId);
                    st.addBatch();
                }
                st.executeBatch();
            }
            c.commit();
        } catch (SQLException e) {
            throw failed("write", e);
        }
    }

    private Connection connect() throws SQLException {
        return DriverManager.getConnection(database.jdbcUrl(), database.user(), database.password());
    }

    private static void createTable(Connection c) throws SQLException {
        try (Statement st = c.createStatement()) {
            st.execute("CREATE TABLE IF NOT EXISTS " + TABLE + " (input_topic text NOT NULL, partition integer NOT NULL,"
                    + " next_offset bigint NOT NULL, run_id text NOT NULL, at timestamptz NOT NULL,"
                    + " PRIMARY KEY (input_topic, partition))");
        }
    }

    private StagewiseException failed(String what, SQLException e) {
        return new StagewiseException("cannot " + what + " the reconciled offsets (table " + TABLE + ") at " + database
                + " (--state-jdbc-url, or --jdbc-url): " + e.getMessage(), e);
    }
}
