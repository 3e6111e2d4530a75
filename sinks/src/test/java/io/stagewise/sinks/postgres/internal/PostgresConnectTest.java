package io.stagewise.sinks.postgres.internal;

import static org.assertj.core.api.Assertions.assertThat;

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

/** How the sink's sessions are opened: the driver, the timeouts. Real PostgreSQL. */
class PostgresConnectTest {
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
            try (Connection c = Postgres.connect(url, "postgres", "", "stagewise-sink:test", Duration.ofSeconds(3));
                    Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT 1")) {
                assertThat(rs.next()).isTrue();
            }
        } finally {
            for (Driver d : deregistered) {
                DriverManager.registerDriver(d);
            }
        }
    }
}
