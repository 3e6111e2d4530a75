package io.stagewise.sinks.postgres;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real PostgreSQL 15 (zonky's embedded binaries) on a fixed port and its own data directory,
 * so {@link #restart()} brings the same cluster back, prepared transactions included (zonky's
 * clean mode would delete the directory on close). Each test gets its own database.
 */
final class TestPostgres implements AutoCloseable {
    private static final AtomicInteger DATABASES = new AtomicInteger();

    private final Path dataDir;
    private final int port;
    private final int maxPreparedTransactions;
    private io.zonky.test.db.postgres.embedded.EmbeddedPostgres server;

    TestPostgres(int maxPreparedTransactions) {
        try {
            Files.createDirectories(Path.of(System.getProperty("java.io.tmpdir")));
            this.dataDir = Files.createTempDirectory("stagewise-pg-");
            try (ServerSocket socket = new ServerSocket(0)) {
                this.port = socket.getLocalPort();
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        this.maxPreparedTransactions = maxPreparedTransactions;
        start();
    }

    void start() {
        try {
            server = io.zonky.test.db.postgres.embedded.EmbeddedPostgres.builder()
                    .setPort(port)
                    .setDataDirectory(dataDir)
                    .setCleanDataDirectory(false)
                    .setServerConfig("max_prepared_transactions", Integer.toString(maxPreparedTransactions))
                    .setServerConfig("listen_addresses", "127.0.0.1")
                    .start();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    void stop() {
        try {
            server.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    void restart() {
        stop();
        start();
    }

    /** Creates a fresh database and returns its URL (user postgres, no password). */
    String newDatabase() throws SQLException {
        String name = "t" + DATABASES.incrementAndGet();
        try (Connection c = connect("postgres"); Statement st = c.createStatement()) {
            st.execute("CREATE DATABASE " + name);
        }
        return url(name);
    }

    String url(String database) {
        return "jdbc:postgresql://127.0.0.1:" + port + "/" + database;
    }

    Connection connect(String database) throws SQLException {
        return DriverManager.getConnection(url(database), "postgres", "");
    }

    static Connection connectUrl(String url) throws SQLException {
        return DriverManager.getConnection(url, "postgres", "");
    }

    @Override
    public void close() {
        stop();
    }
}
