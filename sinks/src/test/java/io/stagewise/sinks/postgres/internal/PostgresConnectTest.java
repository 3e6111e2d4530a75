package io.stagewise.sinks.postgres.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stagewise.testkit.EmbeddedPostgres;
import java.sql.Connection;
import java.sql.Driver;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** How the sink's sessions are opened: the driver, the timeouts. Real PostgreSQL. */
class PostgresConnectTest {
    private static final Postgres.Timeouts TIMEOUTS =
            new Postgres.Timeouts(Duration.ofSeconds(3), Duration.ofSeconds(10), Duration.ofSeconds(20));

    private static EmbeddedPostgres postgres;
    private static String url;

    @BeforeAll
    static void startPostgres() {
        postgres = EmbeddedPostgres.startInTempDir(4);
        url = postgres.newDatabase();
    }

    @AfterAll
    static void stopPostgres() {
        postgres.close();
    }

    /**
     * On a session cluster the driver inside the user jar is registered with DriverManager by the
     * class loader of the first submission only; a later submission's lookup then finds no driver
     * for the URL ("No suitable driver"). The sink must not depend on that registration.
     */
    @Test
    void connectsWithoutTheDriverRegisteredInDriverManager() throws SQLException {
        List<Driver> deregistered = new ArrayList<>();
        for (Driver d : Collections.list(DriverManager.getDrivers())) {
            DriverManager.deregisterDriver(d);
            deregistered.add(d);
        }
        try {
            assertThat(Collections.list(DriverManager.getDrivers())).isEmpty();
            try (Connection c = Postgres.connect(url, "postgres", "", "stagewise-sink:test", TIMEOUTS);
                    Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT 1")) {
                assertThat(rs.next()).isTrue();
            }
        } finally {
            for (Driver d : deregistered) {
                DriverManager.registerDriver(d);
            }
        }
    }

    /** A statement that runs too long ends in a bounded, retryable error instead of a blocked task thread. */
    @Test
    void sessionsCarryAStatementTimeoutAndItsErrorIsTransient() throws SQLException {
        Postgres.Timeouts timeouts = new Postgres.Timeouts(Duration.ofMillis(200), Duration.ofSeconds(1), Duration.ofSeconds(30));
        try (Connection c = Postgres.connect(url, "postgres", "", "stagewise-sink:test", timeouts);
                Statement st = c.createStatement()) {
            try (ResultSet rs = st.executeQuery("SELECT current_setting('statement_timeout'), current_setting('lock_timeout')")) {
                rs.next();
                assertThat(rs.getString(1)).isEqualTo("1s");
                assertThat(rs.getString(2)).isEqualTo("200ms");
            }
            long start = System.nanoTime();
            assertThatThrownBy(() -> st.execute("SELECT pg_sleep(5)"))
                    .isInstanceOfSatisfying(SQLException.class, e -> {
                        assertThat(e.getSQLState()).isEqualTo("57014");
                        assertThat(Postgres.isTransient(e)).as("57014 query_canceled is transient").isTrue();
                    });
            assertThat((System.nanoTime() - start) / 1_000_000).isLessThan(4_000);
        }
    }

    /** A network partition mid-statement ends after socketTimeout, not after TCP gives up (hours). */
    @Test
    void sessionsCarryASocketTimeout() throws SQLException {
        Postgres.Timeouts timeouts = new Postgres.Timeouts(Duration.ofMillis(200), Duration.ofSeconds(30), Duration.ofSeconds(1));
        try (Connection c = Postgres.connect(url, "postgres", "", "stagewise-sink:test", timeouts);
                Statement st = c.createStatement()) {
            long start = System.nanoTime();
            assertThatThrownBy(() -> st.execute("SELECT pg_sleep(5)"))
                    .isInstanceOfSatisfying(SQLException.class, e -> assertThat(Postgres.isTransient(e)).isTrue());
            assertThat((System.nanoTime() - start) / 1_000_000).isLessThan(4_000);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"53200", "53100", "57014", "53300", "57P01", "08006", "40P01"})
    void resourceAndCancelStatesAreTransient(String state) {
        assertThat(Postgres.isTransient(new SQLException("x", state))).isTrue();
    }

    @ParameterizedTest
    @ValueSource(strings = {"42501", "23505", "42P01", "22P02"})
    void otherStatesAreNot(String state) {
        assertThat(Postgres.isTransient(new SQLException("x", state))).isFalse();
    }

    @Test
    void commitBackoffGrowsAndIsBounded() {
        assertThat(PostgresCommitter.backoff(0)).isEqualTo(Duration.ZERO);
        assertThat(PostgresCommitter.backoff(1)).isEqualTo(Duration.ofMillis(100));
        assertThat(PostgresCommitter.backoff(2)).isEqualTo(Duration.ofMillis(200));
        assertThat(PostgresCommitter.backoff(40)).isEqualTo(PostgresCommitter.MAX_COMMIT_BACKOFF);
    }
}
