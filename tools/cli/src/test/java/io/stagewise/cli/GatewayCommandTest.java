package io.stagewise.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.stagewise.testkit.FreePorts;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** {@code stagewise gateway}'s user errors: one clear line, exit code 2, never a password. */
class GatewayCommandTest {

    @Test
    void anUnreachableDatabaseFailsWithinSecondsNamingTheUrlWithoutItsPassword() {
        int closedPort = FreePorts.pick();
        long start = System.nanoTime();

        CliRun result = CliRun.of(new GatewayCommand(), "--port", "0", "--jdbc-url",
                "jdbc:postgresql://127.0.0.1:" + closedPort + "/stagewise?user=gw&password=s3cret",
                "--jdbc-password", "t0ps3cret");

        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(15));
        assertThat(result.exitCode()).isEqualTo(2);
        assertThat(result.err())
                .contains("cannot reach PostgreSQL at jdbc:postgresql://127.0.0.1:" + closedPort
                        + "/stagewise?user=gw&password=***")
                .doesNotContain("s3cret")
                .doesNotContain("t0ps3cret");
        assertThat(result.out()).doesNotContain("s3cret");
    }

    @Test
    void refusesInvalidFlagsBeforeConnecting() {
        CliRun rate = CliRun.of(new GatewayCommand(), "--jdbc-url", "jdbc:postgresql://127.0.0.1:1/x", "--transient-failure-rate", "1.5");
        CliRun notPostgres = CliRun.of(new GatewayCommand(), "--jdbc-url", "jdbc:mysql://127.0.0.1/x?password=s3cret");
        CliRun missingUrl = CliRun.of(new GatewayCommand(), "--port", "0");

        assertThat(rate.exitCode()).isEqualTo(2);
        assertThat(rate.err()).contains("transientFailureRate must be in [0, 1]");
        assertThat(notPostgres.exitCode()).isEqualTo(2);
        assertThat(notPostgres.err()).contains("PostgreSQL JDBC URL").doesNotContain("s3cret");
        assertThat(missingUrl.exitCode()).isEqualTo(2);
        assertThat(missingUrl.err()).contains("--jdbc-url");
    }

}
