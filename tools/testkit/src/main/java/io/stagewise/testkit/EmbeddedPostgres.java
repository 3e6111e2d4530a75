package io.stagewise.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real PostgreSQL server (zonky's embedded binaries, PostgreSQL 15) on a free loopback port,
 * with {@code max_prepared_transactions} set so two-phase commit works. {@link #stop()} and
 * {@link #start()} restart it on the same port and data directory.
 *
 * <p>As root, zonky starts PostgreSQL through a user namespace ({@code unshare -U}); starting the
 * same binaries directly as root fails.
 */
public final class EmbeddedPostgres implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedPostgres.class);

    public static final int DEFAULT_MAX_PREPARED_TRANSACTIONS = 64;

    private final Path dataDir;
    private final int port;
    private final int maxPreparedTransactions;
    private io.zonky.test.db.postgres.embedded.EmbeddedPostgres server;
    private boolean deleteOnClose;
    private static final AtomicInteger DATABASES = new AtomicInteger();

    private EmbeddedPostgres(Path dataDir, int maxPreparedTransactions) {
        this.dataDir = dataDir;
        this.port = FreePorts.pick();
        this.maxPreparedTransactions = maxPreparedTransactions;
    }

    public static EmbeddedPostgres start(Path dataDir) {
        return start(dataDir, DEFAULT_MAX_PREPARED_TRANSACTIONS);
    }

    public static EmbeddedPostgres start(Path dataDir, int maxPreparedTransactions) {
        EmbeddedPostgres postgres = new EmbeddedPostgres(dataDir, maxPreparedTransactions);
        postgres.start();
        return postgres;
    }

    /**
     * Starts a server in a fresh temporary directory, deleted again by {@link #close()}: for tests
     * that need one server and no data afterwards.
     */
    public static EmbeddedPostgres startInTempDir(int maxPreparedTransactions) {
        Path dir;
        try {
            Files.createDirectories(Path.of(System.getProperty("java.io.tmpdir")));
            dir = Files.createTempDirectory("stagewise-pg-");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a data directory for PostgreSQL", e);
        }
        EmbeddedPostgres postgres = new EmbeddedPostgres(dir, maxPreparedTransactions);
        postgres.deleteOnClose = true;
        postgres.start();
        return postgres;
    }

    /** A new, empty database with a unique name; returns its JDBC URL. */
    public String newDatabase() {
        return createDatabase("t" + DATABASES.incrementAndGet());
    }

    /** Stops and starts the server on the same port and data (prepared transactions survive). */
    public void restart() {
        stop();
        start();
    }

    /** A connection to {@code url} as user {@code postgres}. */
    public static Connection connect(String url) throws SQLException {
        return DriverManager.getConnection(url, "postgres", "");
    }

    /** JDBC URL of database {@code postgres}, user {@code postgres} (no password). */
    public String jdbcUrl() {
        return "jdbc:postgresql://127.0.0.1:" + port + "/postgres?user=postgres";
    }

    /** Creates database {@code name} (letters, digits, underscores) and returns its JDBC URL. */
    public String createDatabase(String name) {
        if (!name.matches("[a-z_][a-z0-9_]{0,62}")) {
            throw new IllegalArgumentException("not a plain database name: " + name);
        }
        try (Connection connection = DriverManager.getConnection(jdbcUrl());
                Statement statement = connection.createStatement()) {
            statement.execute("CREATE DATABASE " + name);
        } catch (SQLException e) {
            throw new IllegalStateException("cannot create database " + name + ": " + e.getMessage(), e);
        }
        return "jdbc:postgresql://127.0.0.1:" + port + "/" + name + "?user=postgres";
    }

    public int port() {
        return port;
    }

    public synchronized void start() {
        if (server != null) {
            return;
        }
        try {
            Files.createDirectories(dataDir);
            // zonky unpacks its binaries under java.io.tmpdir, which must exist.
            Files.createDirectories(Path.of(System.getProperty("java.io.tmpdir")));
            server = io.zonky.test.db.postgres.embedded.EmbeddedPostgres.builder()
                    .setPort(port)
                    .setDataDirectory(dataDir)
                    // Never let zonky clean: it would delete the data directory on close, and a
                    // restart must find its data (prepared transactions included). It runs initdb
                    // only when the directory holds no cluster yet.
                    .setCleanDataDirectory(false)
                    .setServerConfig("max_prepared_transactions", Integer.toString(maxPreparedTransactions))
                    .setServerConfig("listen_addresses", "127.0.0.1")
                    .start();
            LOG.info("Embedded PostgreSQL up on port {} (data in {})", port, dataDir);
        } catch (IOException e) {
            throw new UncheckedIOException("the embedded PostgreSQL did not start on port " + port
                    + " (data in " + dataDir + "): " + e.getMessage(), e);
        }
    }

    /** Stops the server (fast shutdown), keeping its data directory. */
    public synchronized void stop() {
        if (server == null) {
            return;
        }
        try {
            server.close();
        } catch (IOException e) {
            throw new UncheckedIOException("stopping the embedded PostgreSQL on port " + port + " failed", e);
        } finally {
            server = null;
        }
    }

    @Override
    public void close() {
        try {
            stop();
        } finally {
            if (deleteOnClose) {
                try {
                    Directories.deleteRecursively(dataDir);
                } catch (IOException e) {
                    LOG.warn("could not delete {}: {}", dataDir, e.toString());
                }
            }
        }
    }
}
