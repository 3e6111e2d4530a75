package io.stagewise.jobs.reconcile;

import static org.assertj.core.api.Assertions.assertThat;

import io.stagewise.jobs.payments.PaymentsLedger;
import io.stagewise.testkit.EmbeddedPostgres;
import java.sql.Connection;
import java.sql.Driver;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * On a Flink session cluster the PostgreSQL driver inside the user jar is registered with
 * {@code DriverManager} only by the class loader of the job's first submission; a later submission
 * looking the driver up fails with "No suitable driver" (docs/operations.md). The reconcile job and
 * the audit connect without that registration, as the ledger sink does. Real PostgreSQL.
 */
class SessionClusterDriverITCase {
    private static EmbeddedPostgres postgres;
    private static PaymentsLedger.Database database;
    private final List<Driver> deregistered = new ArrayList<>();

    @BeforeAll
    static void startPostgres() {
        postgres = EmbeddedPostgres.startInTempDir(4);
        database = new PaymentsLedger.Database(postgres.newDatabase(), "postgres", "");
    }

    @AfterAll
    static void stopPostgres() {
        postgres.close();
    }

    @BeforeEach
    void deregisterEveryDriver() throws SQLException {
        for (Driver d : Collections.list(DriverManager.getDrivers())) {
            DriverManager.deregisterDriver(d);
            deregistered.add(d);
        }
        assertThat(Collections.list(DriverManager.getDrivers())).isEmpty();
    }

    @AfterEach
    void registerThemAgain() throws SQLException {
        for (Driver d : deregistered) {
            DriverManager.registerDriver(d);
        }
    }

    @Test
    void theLedgerDatabaseConnectsWithoutDriverManager() throws SQLException {
        try (Connection c = database.connect("stagewise-test"); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT current_setting('application_name')")) {
            assertThat(rs.next()).isTrue();
            assertThat(rs.getString(1)).isEqualTo("stagewise-test");
        }
    }

    @Test
    void reconcileStateReadsAndWritesItsTablesWithoutDriverManager() {
        ReconcileState state = new ReconcileState(database);
        assertThat(state.load("payments").windowed()).isFalse();
        assertThat(state.history("payments", 5)).isEmpty();
    }
}
