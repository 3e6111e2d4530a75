package io.stagewise.sinks.postgres.internal;

import org.apache.flink.annotation.Internal;
import java.sql.Connection;
import java.sql.SQLException;

/**
 * The one PostgreSQL connection of a writer or committer: opened on first use, dropped after a
 * connection error so the next use opens a fresh one.
 */
@Internal
final class Session {
    private final PostgresSinkSettings settings;
    private final String role;
    private final int subtask;
    private Connection connection;

    Session(PostgresSinkSettings settings, String role, int subtask) {
        this.settings = settings;
        this.role = role;
        this.subtask = subtask;
    }

    Connection get() throws SQLException {
        if (connection == null) {
            connection = settings.connect(role, subtask);
        }
        return connection;
    }

    void drop() {
        Postgres.closeQuietly(connection);
        connection = null;
    }
}
