package io.stagewise.sinks.postgres.internal;

import org.apache.flink.annotation.Internal;
import java.io.Serializable;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Objects;

/** The validated settings of one {@code PostgresSink}; {@link #toString()} never shows the password. */
@Internal
public final class PostgresSinkSettings implements Serializable {
    private static final long serialVersionUID = 1L;

    private final String jdbcUrl;
    private final String username;
    private final String password;
    private final String transactionIdPrefix;
    private final Duration lockTimeout;
    private final Duration statementTimeout;
    private final Duration socketTimeout;
    private final int maxDeferredCheckpoints;
    private final int maxBufferedRows;
    private final boolean failOnLostTransaction;

    public PostgresSinkSettings(String jdbcUrl, String username, String password, String transactionIdPrefix,
            Duration lockTimeout, Duration statementTimeout, Duration socketTimeout, int maxDeferredCheckpoints,
            int maxBufferedRows, boolean failOnLostTransaction) {
        this.jdbcUrl = Objects.requireNonNull(jdbcUrl);
        this.username = username;
        this.password = password;
        this.transactionIdPrefix = Objects.requireNonNull(transactionIdPrefix);
        this.lockTimeout = Objects.requireNonNull(lockTimeout);
        this.statementTimeout = Objects.requireNonNull(statementTimeout);
        this.socketTimeout = Objects.requireNonNull(socketTimeout);
        this.maxDeferredCheckpoints = maxDeferredCheckpoints;
        this.maxBufferedRows = maxBufferedRows;
        this.failOnLostTransaction = failOnLostTransaction;
    }

    public String jdbcUrl() {
        return jdbcUrl;
    }

    public String username() {
        return username;
    }

    public String password() {
        return password;
    }

    public String transactionIdPrefix() {
        return transactionIdPrefix;
    }

    public Duration lockTimeout() {
        return lockTimeout;
    }

    public Duration statementTimeout() {
        return statementTimeout;
    }

    public Duration socketTimeout() {
        return socketTimeout;
    }

    public Postgres.Timeouts timeouts() {
        return new Postgres.Timeouts(lockTimeout, statementTimeout, socketTimeout);
    }

    public int maxDeferredCheckpoints() {
        return maxDeferredCheckpoints;
    }

    public int maxBufferedRows() {
        return maxBufferedRows;
    }

    public boolean failOnLostTransaction() {
        return failOnLostTransaction;
    }

    Connection connect(String role, int subtask) throws SQLException {
        return Postgres.connect(jdbcUrl, username, password,
                "stagewise-sink:" + transactionIdPrefix + ":" + role + ":" + subtask, timeouts());
    }

    @Override
    public String toString() {
        return "PostgresSinkSettings{url=" + Postgres.redact(jdbcUrl) + ", user=" + username
                + ", password=" + (password == null ? "<none>" : "<hidden>")
                + ", prefix=" + transactionIdPrefix + ", lockTimeout=" + lockTimeout
                + ", statementTimeout=" + statementTimeout + ", socketTimeout=" + socketTimeout
                + ", maxDeferredCheckpoints=" + maxDeferredCheckpoints + ", maxBufferedRows=" + maxBufferedRows
                + ", failOnLostTransaction=" + failOnLostTransaction + '}';
    }
}
