package io.stagewise.sinks.postgres;

import org.apache.flink.annotation.PublicEvolving;
import io.stagewise.sinks.postgres.internal.Gids;
import io.stagewise.sinks.postgres.internal.PostgresSinkSettings;
import io.stagewise.sinks.postgres.internal.TypeSerializerRowSerializer;
import java.io.Serializable;
import java.time.Duration;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.core.io.SimpleVersionedSerializer;

/**
 * Builds a {@link PostgresSink}. {@link #build()} refuses a configuration that cannot keep the
 * sink's exactly-once guarantee (see {@link PostgresSink} for the guarantee itself).
 *
 * @param <T> the row type
 */
@PublicEvolving
public final class PostgresSinkBuilder<T> {
    private static final Duration MAX_LOCK_TIMEOUT = Duration.ofMinutes(10);

    private String jdbcUrl;
    private String username;
    private String password;
    private String transactionIdPrefix;
    private RowWriter<T> rowWriter;
    private SimpleVersionedSerializer<T> rowSerializer;
    private Duration lockTimeout = PostgresSink.DEFAULT_LOCK_TIMEOUT;
    private Duration statementTimeout = PostgresSink.DEFAULT_STATEMENT_TIMEOUT;
    private Duration socketTimeout = PostgresSink.DEFAULT_SOCKET_TIMEOUT;
    private int maxDeferredCheckpoints = PostgresSink.DEFAULT_MAX_DEFERRED_CHECKPOINTS;
    private int maxBufferedRows = PostgresSink.DEFAULT_MAX_BUFFERED_ROWS;
    private boolean failOnLostTransaction = true;

    PostgresSinkBuilder() {}

    /** {@code jdbc:postgresql://host:port/database}; keep credentials out of it (use the setters). */
    public PostgresSinkBuilder<T> setJdbcUrl(String jdbcUrl) {
        this.jdbcUrl = jdbcUrl;
        return this;
    }

    public PostgresSinkBuilder<T> setUsername(String username) {
        this.username = username;
        return this;
    }

    /** Never logged; travels in the job graph like every sink setting. */
    public PostgresSinkBuilder<T> setPassword(String password) {
        this.password = password;
        return this;
    }

    /**
     * Required. Unique among all jobs and sinks writing to the same PostgreSQL server: a writer
     * rolls back every prepared transaction with its prefix and subtask that belongs to no
     * completed checkpoint. Letters, digits, {@code . _ -}, at most 150 characters.
     */
    public PostgresSinkBuilder<T> setTransactionIdPrefix(String transactionIdPrefix) {
        this.transactionIdPrefix = transactionIdPrefix;
        return this;
    }

    /** Required: writes a batch of rows into the sink's transaction. Must be serializable. */
    public PostgresSinkBuilder<T> setRowWriter(RowWriter<T> rowWriter) {
        this.rowWriter = rowWriter;
        return this;
    }

    /**
     * Required (or {@link #setRowSerializer(TypeSerializer)}): the format of rows carried in writer
     * state. Must be serializable; versioned so state written today restores after the row type
     * changes.
     */
    public PostgresSinkBuilder<T> setRowSerializer(SimpleVersionedSerializer<T> rowSerializer) {
        this.rowSerializer = rowSerializer;
        return this;
    }

    /** Rows in writer state in Flink's own format (e.g. {@code typeInfo.createSerializer(config)}). */
    public PostgresSinkBuilder<T> setRowSerializer(TypeSerializer<T> rowSerializer) {
        this.rowSerializer = rowSerializer == null ? null : new TypeSerializerRowSerializer<>(rowSerializer);
        return this;
    }

    /**
     * PostgreSQL {@code lock_timeout} of the sink's sessions (default 10 s): the longest a write
     * waits for a row lock before the task fails over. Keep it well below the checkpoint timeout.
     */
    public PostgresSinkBuilder<T> setLockTimeout(Duration lockTimeout) {
        this.lockTimeout = lockTimeout;
        return this;
    }

    /**
     * PostgreSQL {@code statement_timeout} of the sink's sessions (default 60 s): the longest any
     * statement (a checkpoint's write, PREPARE, COMMIT PREPARED) may run before the server cancels
     * it (SQL state 57014, retried). Must be above the lock timeout and below the socket timeout.
     */
    public PostgresSinkBuilder<T> setStatementTimeout(Duration statementTimeout) {
        this.statementTimeout = statementTimeout;
        return this;
    }

    /**
     * The driver's {@code socketTimeout} (default 90 s, whole seconds): the longest a read waits
     * for the server, e.g. through a network partition, where the server cannot cancel anything.
     * Must be above the statement timeout, so a slow statement is cancelled by the server first.
     */
    public PostgresSinkBuilder<T> setSocketTimeout(Duration socketTimeout) {
        this.socketTimeout = socketTimeout;
        return this;
    }

    /**
     * How many rows may wait in memory (default 5,000) before the writer writes them early into
     * the next checkpoint's transaction, which it does whenever none of its earlier transactions
     * is still prepared. Keeps the buffer, and the writer state of a deferred checkpoint, bounded;
     * the rows still become visible only when their checkpoint completes.
     */
    public PostgresSinkBuilder<T> setMaxBufferedRows(int maxBufferedRows) {
        this.maxBufferedRows = maxBufferedRows;
        return this;
    }

    /**
     * How many checkpoints in a row a subtask may carry its rows over because its previous
     * transaction is still prepared (default 50) before it fails over.
     */
    public PostgresSinkBuilder<T> setMaxDeferredCheckpoints(int maxDeferredCheckpoints) {
        this.maxDeferredCheckpoints = maxDeferredCheckpoints;
        return this;
    }

    /**
     * What to do when a committable's transaction was rolled back by someone (its rows are lost):
     * fail the job (default; it fails again on every restore until set to {@code false}), or log
     * an error, count it ({@code transactionsLost}) and go on.
     */
    public PostgresSinkBuilder<T> setFailOnLostTransaction(boolean failOnLostTransaction) {
        this.failOnLostTransaction = failOnLostTransaction;
        return this;
    }

    /** @throws IllegalArgumentException naming the first unsafe or missing setting */
    public PostgresSink<T> build() {
        if (jdbcUrl == null || !jdbcUrl.startsWith("jdbc:postgresql:")) {
            throw new IllegalArgumentException("the PostgresSink needs a jdbc:postgresql: URL (setJdbcUrl)");
        }
        if (transactionIdPrefix == null || transactionIdPrefix.isEmpty()) {
            throw new IllegalArgumentException("an exactly-once PostgresSink needs a transaction id prefix "
                    + "(setTransactionIdPrefix), unique among the jobs writing to this server");
        }
        if (!Gids.SAFE_PREFIX.matcher(transactionIdPrefix).matches()) {
            throw new IllegalArgumentException("transaction id prefix '" + transactionIdPrefix + "' is not safe in a "
                    + "PostgreSQL gid: use letters, digits, '.', '_', '-' (first a letter or digit), at most 150 characters");
        }
        if (rowWriter == null) {
            throw new IllegalArgumentException("the PostgresSink needs a RowWriter (setRowWriter)");
        }
        if (rowSerializer == null) {
            throw new IllegalArgumentException("the PostgresSink needs a row serializer for its writer state (setRowSerializer)");
        }
        if (!(rowSerializer instanceof Serializable)) {
            throw new IllegalArgumentException("the row serializer " + rowSerializer.getClass().getName()
                    + " must be java.io.Serializable: it ships with the job graph");
        }
        if (lockTimeout == null || lockTimeout.isNegative() || lockTimeout.isZero()
                || lockTimeout.compareTo(MAX_LOCK_TIMEOUT) > 0) {
            throw new IllegalArgumentException("lock timeout must be > 0 and <= " + MAX_LOCK_TIMEOUT + ", got "
                    + lockTimeout + " (0 would mean: wait for ever, which is the hang this sink avoids)");
        }
        if (lockTimeout.toMillis() < 1) {
            throw new IllegalArgumentException("lock timeout must be at least 1 ms, got " + lockTimeout);
        }
        if (statementTimeout == null || statementTimeout.compareTo(lockTimeout) <= 0) {
            throw new IllegalArgumentException("statement timeout (setStatementTimeout) must be above the lock timeout ("
                    + lockTimeout + "), got " + statementTimeout + ": a lock wait must end as a lock timeout, "
                    + "and 0 would mean: no limit, so a stuck statement blocks the task thread");
        }
        if (socketTimeout == null || socketTimeout.compareTo(statementTimeout) <= 0) {
            throw new IllegalArgumentException("socket timeout (setSocketTimeout) must be above the statement timeout ("
                    + statementTimeout + "), got " + socketTimeout + ": a slow statement must be cancelled by the "
                    + "server before the driver gives up on the connection");
        }
        if (maxDeferredCheckpoints < 1) {
            throw new IllegalArgumentException("maxDeferredCheckpoints must be >= 1, got " + maxDeferredCheckpoints);
        }
        if (maxBufferedRows < 1) {
            throw new IllegalArgumentException("maxBufferedRows (setMaxBufferedRows) must be >= 1, got " + maxBufferedRows);
        }
        return new PostgresSink<>(
                new PostgresSinkSettings(jdbcUrl, username, password, transactionIdPrefix, lockTimeout,
                        statementTimeout, socketTimeout, maxDeferredCheckpoints, maxBufferedRows, failOnLostTransaction),
                rowWriter, rowSerializer);
    }
}
