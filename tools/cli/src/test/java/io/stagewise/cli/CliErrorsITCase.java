package io.stagewise.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.stagewise.jobs.Topics;
import io.stagewise.testkit.EmbeddedKafka;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** User errors get one clear line and exit code 2; nothing starts. */
class CliErrorsITCase {
    @TempDir
    static Path tmp;

    private static EmbeddedKafka kafka;

    @BeforeAll
    static void start() {
        kafka = EmbeddedKafka.start(tmp.resolve("kafka"));
        Topics.createAll(kafka.bootstrapServers(), 1, List.of("present"));
    }

    @AfterAll
    static void stop() {
        kafka.close();
    }

    @Test
    void theLauncherOffersEveryCommand() {
        assertThat(Stagewise.commandLine(new Stagewise()).getSubcommands().keySet())
                .contains("demo", "run", "gateway", "produce", "dlq", "reconcile", "bench", "status", "savepoint");
        CliRun gatewayHelp = CliRun.stagewise("gateway", "--help");
        assertThat(gatewayHelp.exitCode()).isZero();
    }

    @Test
    void anUnreachableBrokerIsNamedAndNothingHangs() {
        CliRun run = CliRun.stagewise("run", "--bootstrap-servers", "127.0.0.1:1", "--workflow", "dedup-only");
        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.err()).contains("cannot reach a Kafka broker at 127.0.0.1:1");

        CliRun produce = CliRun.stagewise("produce", "--bootstrap-servers", "127.0.0.1:1", "--events", "1");
        assertThat(produce.exitCode()).isEqualTo(2);
        assertThat(produce.err()).contains("127.0.0.1:1");
    }

    @Test
    void statusNamesAnUnreachableRestApi() {
        CliRun status = CliRun.stagewise("status", "--rest-url", "http://127.0.0.1:1");
        assertThat(status.exitCode()).isEqualTo(2);
        assertThat(status.err()).contains("cannot reach Flink's REST API at http://127.0.0.1:1").contains("--rest-url");
    }

    @Test
    void aPrometheusPortInUseIsRefusedNamingTheFlag() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            CliRun run = CliRun.stagewise("run", "--bootstrap-servers", kafka.bootstrapServers(), "--input-topic", "present",
                    "--workflow", "dedup-only", "--checkpoint-dir", tmp.resolve("p").toString(),
                    "--prometheus-port", Integer.toString(taken.getLocalPort()));
            assertThat(run.exitCode()).isEqualTo(2);
            assertThat(run.err()).contains("the Prometheus port " + taken.getLocalPort() + " is in use")
                    .contains("--prometheus-port");
        }
    }

    @Test
    void aMissingInputTopicIsNamed() {
        CliRun run = CliRun.stagewise("run", "--bootstrap-servers", kafka.bootstrapServers(), "--input-topic", "absent",
                "--workflow", "dedup-only", "--checkpoint-dir", tmp.resolve("c").toString());
        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.err()).contains("input topic 'absent' does not exist on " + kafka.bootstrapServers());

        CliRun produce = CliRun.stagewise("produce", "--bootstrap-servers", kafka.bootstrapServers(), "--topic", "absent");
        assertThat(produce.exitCode()).isEqualTo(2);
        assertThat(produce.err()).contains("topic 'absent' does not exist").contains("--create-topic");
    }

    @Test
    void reconcileNamesWhatIsWrongAndExitsTwo() {
        CliRun absent = CliRun.stagewise("reconcile", "--bootstrap-servers", kafka.bootstrapServers(), "--input-topic", "absent");
        assertThat(absent.exitCode()).isEqualTo(2);
        assertThat(absent.err()).contains("topic 'absent' does not exist on " + kafka.bootstrapServers());

        CliRun dryRunAlone = CliRun.stagewise("reconcile", "--bootstrap-servers", kafka.bootstrapServers(), "--dry-run");
        assertThat(dryRunAlone.exitCode()).isEqualTo(2);
        assertThat(dryRunAlone.err()).contains("--dry-run only goes with --repair");

        CliRun bothGateways = CliRun.stagewise("reconcile", "--bootstrap-servers", kafka.bootstrapServers(),
                "--gateway-url", "http://127.0.0.1:1", "--gateway-jdbc-url", "jdbc:postgresql://127.0.0.1:1/x");
        assertThat(bothGateways.exitCode()).isEqualTo(2);
        assertThat(bothGateways.err()).contains("not both");

        CliRun periodicWithoutLedger = CliRun.stagewise("reconcile", "--bootstrap-servers", kafka.bootstrapServers(),
                "--every", "1min", "--state-jdbc-url", "jdbc:postgresql://127.0.0.1:1/x");
        assertThat(periodicWithoutLedger.exitCode()).isEqualTo(2);
        assertThat(periodicWithoutLedger.err()).contains("--every").contains("needs the ledger (--jdbc-url)");
    }

    @Test
    void badFlagsAreExplained() {
        CliRun bareNumber = CliRun.stagewise("run", "--bootstrap-servers", kafka.bootstrapServers(), "--checkpoint-interval", "5");
        assertThat(bareNumber.exitCode()).isEqualTo(2);
        assertThat(bareNumber.err()).contains("'5' needs a unit");

        CliRun ordering = CliRun.stagewise("run", "--bootstrap-servers", kafka.bootstrapServers(), "--input-topic", "present",
                "--workflow", "dedup-only", "--ordering", "sorted");
        assertThat(ordering.exitCode()).isEqualTo(2);
        assertThat(ordering.err()).contains("ordering must be 'unordered' or 'per-key'");

        CliRun noGateway = CliRun.stagewise("run", "--bootstrap-servers", kafka.bootstrapServers(), "--input-topic", "present");
        assertThat(noGateway.exitCode()).isEqualTo(2);
        assertThat(noGateway.err()).contains("--gateway-url");

        CliRun ladder = CliRun.stagewise("run", "--bootstrap-servers", kafka.bootstrapServers(), "--input-topic", "present",
                "--workflow", "dedup-only", "--retry-topic-multiplier", "1.5");
        assertThat(ladder.exitCode()).isEqualTo(2);
        assertThat(ladder.err()).contains("multiplier must be >= 2");

        CliRun rate = CliRun.stagewise("produce", "--bootstrap-servers", kafka.bootstrapServers(), "--duplicate-rate", "2");
        assertThat(rate.exitCode()).isEqualTo(2);
        assertThat(rate.err()).contains("--duplicate-rate must be in [0, 1)");

        CliRun restore = CliRun.stagewise("run", "--bootstrap-servers", kafka.bootstrapServers(), "--input-topic", "present",
                "--workflow", "dedup-only", "--restore", "latest", "--checkpoint-dir", tmp.resolve("none").toString());
        assertThat(restore.exitCode()).isEqualTo(2);
        assertThat(restore.err()).contains("--restore latest: no complete checkpoint");
    }

    @Test
    void savepointInspectRefusesAPathThatIsNotASavepoint() throws Exception {
        Path notASavepoint = Files.createDirectories(tmp.resolve("not-a-savepoint"));
        CliRun inspect = CliRun.stagewise("savepoint", "inspect", notASavepoint.toString());
        assertThat(inspect.exitCode()).isEqualTo(2);
        assertThat(inspect.err().strip()).isEqualTo("stagewise: " + notASavepoint + " is not a savepoint or checkpoint (no _metadata file)");

        CliRun absent = CliRun.stagewise("savepoint", "inspect", "file://" + tmp.resolve("absent"), "--id", "x");
        assertThat(absent.exitCode()).isEqualTo(2);
        assertThat(absent.err()).contains("absent does not exist");
    }
}
