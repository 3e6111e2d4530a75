package io.stagewise.sinks.postgres.internal;

import java.io.IOException;
import org.apache.flink.annotation.Internal;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Properties;
import java.util.Set;
import org.postgresql.Driver;

/** JDBC plumbing shared by the writer and the committer: connections, error classes, SQL. */
@Internal
public final class Postgres {
    /** The commit-marker table; one row per committed sink transaction. */
    public static final String MARKER_TABLE = "stagewise_sink_commits";

    /** Prepared transactions the sink may hold per subtask; see {@link #checkPreparedTransactions}. */
    public static final int PREPARED_TRANSACTIONS_PER_SUBTASK = 2;

    /** Serialises schema creation across subtasks (CREATE TABLE IF NOT EXISTS races on pg_type). */
    private static final long SCHEMA_LOCK_KEY = 0x5374616765L;

    /** SQLSTATE classes and codes after which a fresh connection may succeed. */
    private static final Set<String> TRANSIENT_STATES = Set.of(
            "57P01", // admin_shutdown (server stopping, pg_terminate_backend)
            "57P02", // crash_shutdown
            "57P03", // cannot_connect_now (server starting)
            "53300", // too_many_connections
            "53100", // disk_full: space may be freed
            "53200", // out_of_memory
            "57014", // query_canceled: statement_timeout reached, or a cancel request
            "40001", // serialization_failure
            "40P01"); // deadlock_detected

    public static final String UNDEFINED_OBJECT = "42704"; // e.g. prepared transaction does not exist
    public static final String LOCK_NOT_AVAILABLE = "55P03"; // lock_timeout reached

    /**
     * The driver, instantiated here rather than looked up through {@code DriverManager}: on a Flink
     * session cluster the driver in the user jar is registered only by the class loader of the
     * job's first submission, and a later submission's lookup fails with "No suitable driver"
     * (sinks/README.md).
     */
    private static final Driver DRIVER = new Driver();

    private Postgres() {}

    /** True if retrying on a new connection may succeed: connection loss, server restart, overload. */
    public static boolean isTransient(SQLException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SQLException sql) {
                String state = sql.getSQLState();
                if (state != null && (state.startsWith("08") || TRANSIENT_STATES.contains(state))) {
                    return true;
                }
            }
            if (t instanceof IOException) {
                return true;
            }
        }
        return false;
    }

    public static boolean hasState(SQLException e, String state) {
        return state.equals(e.getSQLState());
    }

    /**
     * Opens a connection; credentials travel only in the driver properties, never in logs. Every
     * wait of the session is bounded, so a stuck server or network ends in an error (a retry or a
     * task failover), never a task thread blocked for hours (docs/payments.md): {@code lock_timeout}
     * for row locks, {@code statement_timeout} for any statement, and the driver's
     * {@code socketTimeout} for a network partition, where the server cannot even cancel.
     */
    public static Connection connect(String jdbcUrl, String username, String password, String applicationName,
            Timeouts timeouts) throws SQLException {
        Properties props = properties(username, password, applicationName);
        props.setProperty("socketTimeout", Long.toString(ceilSeconds(timeouts.socket())));
        Connection connection = open(jdbcUrl, props);
        try (PreparedStatement st = connection.prepareStatement(
                "SELECT set_config('lock_timeout', ?, false), set_config('statement_timeout', ?, false)")) {
            st.setString(1, timeouts.lock().toMillis() + "ms");
            st.setString(2, timeouts.statement().toMillis() + "ms");
            st.execute();
        } catch (SQLException e) {
            closeQuietly(connection);
            throw e;
        }
        return connection;
    }

    /**
     * Opens a connection through the driver instance (never {@code DriverManager}) with a 10 s
     * connect timeout and no session timeouts: for reads and bookkeeping outside the sink's
     * transactions (audit, reconcile), whose statements may run long.
     */
    public static Connection open(String jdbcUrl, String username, String password, String applicationName)
            throws SQLException {
        return open(jdbcUrl, properties(username, password, applicationName));
    }

    private static Properties properties(String username, String password, String applicationName) {
        Properties props = new Properties();
        if (username != null) {
            props.setProperty("user", username);
        }
        if (password != null) {
            props.setProperty("password", password);
        }
        props.setProperty("ApplicationName", applicationName);
        props.setProperty("connectTimeout", "10");
        props.setProperty("tcpKeepAlive", "true");
        return props;
    }

    private static Connection open(String jdbcUrl, Properties props) throws SQLException {
        Connection connection = DRIVER.connect(jdbcUrl, props);
        if (connection == null) {
            throw new SQLException("not a PostgreSQL JDBC URL: " + redact(jdbcUrl) + " (expected jdbc:postgresql://host:port/db)",
                    "08001");
        }
        return connection;
    }

    private static long ceilSeconds(Duration d) {
        return Math.max(1, (d.toMillis() + 999) / 1000);
    }

    /** The URL without its query string, which may hold a password. */
    public static String redact(String jdbcUrl) {
        if (jdbcUrl == null) {
            return null;
        }
        int q = jdbcUrl.indexOf('?');
        return q < 0 ? jdbcUrl : jdbcUrl.substring(0, q) + "?<parameters hidden>";
    }

    public static void closeQuietly(Connection connection) {
        if (connection != null) {
            try {
                connection.close();
            } catch (SQLException ignored) {
                // closing a broken connection; the original error is what matters
            }
        }
    }

    public static int maxPreparedTransactions(Connection connection) throws SQLException {
        try (Statement st = connection.createStatement();
                ResultSet rs = st.executeQuery("SELECT current_setting('max_prepared_transactions')::int")) {
            rs.next();
            return rs.getInt(1);
        }
    }

    /**
     * Refuses a server whose {@code max_prepared_transactions} cannot hold this sink's prepared
     * transactions. Why two per subtask: the writer never prepares while its own previous
     * transaction is still prepared (one each), except at end of input, where the last
     * checkpoint's transaction and the final one can coexist; after a failover or a rescale an
     * earlier attempt's transactions also live until the committer or the restarted writer ends
     * them. Other users of prepared transactions on the same server need room on top.
     */
    public static void checkPreparedTransactions(Connection connection, int parallelism, String sinkName)
            throws SQLException {
        int configured = maxPreparedTransactions(connection);
        int needed = requiredPreparedTransactions(parallelism);
        if (configured < needed) {
            throw new IllegalStateException("PostgreSQL setting max_prepared_transactions is " + configured
                    + ", but the exactly-once PostgresSink '" + sinkName + "' at parallelism " + parallelism
                    + " needs at least " + needed + " (" + PREPARED_TRANSACTIONS_PER_SUBTASK
                    + " per subtask; PREPARE TRANSACTION fails with 0). Set max_prepared_transactions = "
                    + Math.max(needed, 64) + " in postgresql.conf (or ALTER SYSTEM SET max_prepared_transactions = "
                    + Math.max(needed, 64) + ") and restart the PostgreSQL server: the setting only changes on restart.");
        }
    }

    public static int requiredPreparedTransactions(int parallelism) {
        return PREPARED_TRANSACTIONS_PER_SUBTASK * parallelism;
    }

    /** Creates the commit-marker table (and runs {@code extra}) in one transaction, serialised by an advisory lock. */
    public static void createSchema(Connection connection, SchemaStep extra) throws SQLException {
        boolean autoCommit = connection.getAutoCommit();
        connection.setAutoCommit(false);
        try {
            try (Statement st = connection.createStatement()) {
                st.execute("SELECT pg_advisory_xact_lock(" + SCHEMA_LOCK_KEY + ")");
                st.execute("CREATE TABLE IF NOT EXISTS " + MARKER_TABLE + " ("
                        + "gid TEXT PRIMARY KEY, "
                        + "sink TEXT NOT NULL, "
                        + "subtask INT NOT NULL, "
                        + "checkpoint_id BIGINT NOT NULL, "
                        + "row_count INT NOT NULL, "
                        + "written_at TIMESTAMPTZ NOT NULL DEFAULT now(), "
                        + "lineage TEXT)");
                addLineageColumn(st);
            }
            extra.run(connection);
            connection.commit();
        } catch (SQLException | RuntimeException e) {
            rollbackQuietly(connection);
            throw e;
        } finally {
            connection.setAutoCommit(autoCommit);
        }
    }

    /**
     * Marker tables of versions before lineages lack the column; NULL there means a legacy gid.
     * Checked first, so a role that does not own the table (e.g. a committer's) never runs DDL.
     */
    private static void addLineageColumn(Statement st) throws SQLException {
        try (ResultSet rs = st.executeQuery("SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "
                + "AND table_name = '" + MARKER_TABLE + "' AND column_name = 'lineage'")) {
            if (rs.next()) {
                return;
            }
        }
        st.execute("ALTER TABLE " + MARKER_TABLE + " ADD COLUMN IF NOT EXISTS lineage TEXT");
    }

    public static void rollbackQuietly(Connection connection) {
        try {
            if (!connection.isClosed() && !connection.getAutoCommit()) {
                connection.rollback();
            }
        } catch (SQLException ignored) {
            // the connection is broken; the server has already aborted the transaction
        }
    }

    /** The gids of this sink that are prepared in the connection's database. */
    public static List<Gids.Parsed> preparedGids(Connection connection, Gids gids) throws SQLException {
        List<Gids.Parsed> result = new ArrayList<>();
        try (PreparedStatement st = connection.prepareStatement(
                "SELECT gid FROM pg_prepared_xacts WHERE database = current_database() AND starts_with(gid, ?)")) {
            st.setString(1, gids.prefix() + "-");
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    gids.parse(rs.getString(1)).ifPresent(result::add);
                }
            }
        }
        return result;
    }

    public static boolean isPrepared(Connection connection, String gid) throws SQLException {
        try (PreparedStatement st = connection.prepareStatement(
                "SELECT 1 FROM pg_prepared_xacts WHERE database = current_database() AND gid = ?")) {
            st.setString(1, gid);
            try (ResultSet rs = st.executeQuery()) {
                return rs.next();
            }
        }
    }

    public static boolean markerExists(Connection connection, String gid) throws SQLException {
        try (PreparedStatement st = connection.prepareStatement("SELECT 1 FROM " + MARKER_TABLE + " WHERE gid = ?")) {
            st.setString(1, gid);
            try (ResultSet rs = st.executeQuery()) {
                return rs.next();
            }
        }
    }

    /** Runs a statement whose gid cannot be a bind parameter; gids are validated by {@link Gids}. */
    public static void executeWithGid(Connection connection, String command, String gid) throws SQLException {
        if (!Gids.SAFE_GID.matcher(gid).matches()) {
            throw new IllegalArgumentException("unsafe gid " + gid);
        }
        try (Statement st = connection.createStatement()) {
            st.execute(command + " '" + gid + "'");
        }
    }

    /**
     * The time limits of a sink session: {@code lock_timeout}, {@code statement_timeout} and the
     * driver's {@code socketTimeout} (whole seconds, rounded up).
     */
    public record Timeouts(Duration lock, Duration statement, Duration socket) {
        public Timeouts {
            Objects.requireNonNull(lock, "lock");
            Objects.requireNonNull(statement, "statement");
            Objects.requireNonNull(socket, "socket");
        }
    }

    /** A schema step run inside the sink's schema transaction. */
    @FunctionalInterface
    public interface SchemaStep {
        void run(Connection connection) throws SQLException;
    }
}
