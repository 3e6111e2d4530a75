package io.stagewise.sinks.postgres.internal;

import org.apache.flink.annotation.Internal;
import java.io.Serializable;
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
    private final int maxDeferredCheckpoints;
    private final boolean failOnLostTransaction;

    public PostgresSinkSettings(String jdbcUrl, String username, String password, String transactionIdPrefix,
            Duration lockTimeout, int maxDeferredCheckpoints, boolean failOnLostTransaction) {
        this.jdbcUrl = Objects.requireNonNull(jdbcUrl);
        this.username = username;
        this.password = password;
        this.transactionIdPrefix = Objects.requireNonNull(transactionIdPrefix);
        this.lockTimeout = Objects.requireNonNull(lockTimeout);
        this.maxDeferredCheckpoints = maxDeferredCheckpoints;
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

    public int maxDeferredCheckpoints() {
        return maxDeferredCheckpoints;
    }

    public boolean failOnLostTransaction() {
        return failOnLostTransaction;
    }

    java.sql.Connection connect(String role, int subtask) throws java.sql.SQLException {
        return Postgres.connect(jdbcUrl, username, password,
                "stagewise-sink:" + transactionIdPrefix + ":" + role + ":" + subtask, lockTimeout);
    }

    @Override
    public String toString() {
        return "PostgresSinkSettings{url=" + Postgres.redact(jdbcUrl) + ", user=" + username
                + ", password=" + (password == null ? "<none>" : "<hidden>")
                + ", prefix=" + transactionIdPrefix + ", lockTimeout=" + lockTimeout
                + ", maxDeferredCheckpoints=" + maxDeferredCheckpoints
                + ", failOnLostTransaction=" + failOnLostTransaction + '}';
    }
}
