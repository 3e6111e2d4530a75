package io.stagewise.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.stagewise.jobs.Topics;
import io.stagewise.testkit.EmbeddedKafka;
import io.stagewise.testkit.FreePorts;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --kafka-property} and {@code --kafka-properties FILE} reach the Kafka clients of every
 * command (shown by properties whose effect is visible against a plaintext broker), and their
 * values are never printed.
 */
class KafkaPropertiesITCase {
    private static final String SECRET = "s3cr3t-never-printed";

    @TempDir
    static Path tmp;

    private static EmbeddedKafka kafka;

    @BeforeAll
    static void start() {
        kafka = EmbeddedKafka.start(tmp.resolve("kafka"));
        Topics.createAll(kafka.bootstrapServers(), 1, List.of("payments", "payments.dlq"));
    }

    @AfterAll
    static void stop() {
        kafka.close();
    }

    private static Path sslProperties() throws Exception {
        Path file = tmp.resolve("client.properties");
        Files.writeString(file, "security.protocol=SSL\nssl.keystore.password=" + SECRET + "\n");
        return file;
    }

    @Test
    void produceUsesThePropertiesOfItsProducer() {
        CliRun produce = CliRun.stagewise("produce", "--bootstrap-servers", kafka.bootstrapServers(), "--events", "5",
                "--kafka-property", "max.request.size=64");
        assertThat(produce.exitCode()).isNotZero();
        assertThat(produce.err()).contains("max.request.size");
    }

    @Test
    void dlqCommandsUseThePropertiesFileAndNeverPrintItsSecrets() throws Exception {
        CliRun list = CliRun.stagewise("dlq", "list", "--bootstrap-servers", kafka.bootstrapServers(),
                "--kafka-properties", sslProperties().toString());
        assertThat(list.exitCode()).as(list.err()).isEqualTo(2);
        // The file's keystore password reached the client, which names the problem, not the password.
        assertThat(list.err()).contains("--kafka-properties").contains("SSL key store is not specified");
        assertThat(list.out() + list.err()).doesNotContain(SECRET);
    }

    @Test
    void runUsesThePropertiesForItsChecksAndNeverPrintsThem() throws Exception {
        CliRun run = CliRun.stagewise("run", "--bootstrap-servers", kafka.bootstrapServers(), "--workflow", "dedup-only",
                "--checkpoint-dir", tmp.resolve("checkpoints").toString(), "--dashboard-port", Integer.toString(FreePorts.pick()),
                "--kafka-properties", sslProperties().toString(), "--kafka-property", "sasl.jaas.config=" + SECRET);
        assertThat(run.exitCode()).as(run.err()).isEqualTo(2);
        assertThat(run.err()).contains("--kafka-property").contains("SSL key store is not specified");
        assertThat(run.out() + run.err()).doesNotContain(SECRET);
    }

    @Test
    void reconcileUsesThePropertiesFileAndNeverPrintsItsSecrets() throws Exception {
        Topics.createAll(kafka.bootstrapServers(), 1, List.of("payments.completed"));
        CliRun reconcile = CliRun.stagewise("reconcile", "--bootstrap-servers", kafka.bootstrapServers(),
                "--kafka-properties", sslProperties().toString());
        assertThat(reconcile.exitCode()).as(reconcile.err()).isEqualTo(2);
        assertThat(reconcile.err()).contains("--kafka-properties").contains("SSL key store is not specified");
        assertThat(reconcile.out() + reconcile.err()).doesNotContain(SECRET);
    }

    @Test
    void aMissingPropertiesFileIsNamed() {
        CliRun list = CliRun.stagewise("dlq", "list", "--bootstrap-servers", kafka.bootstrapServers(),
                "--kafka-properties", tmp.resolve("absent.properties").toString());
        assertThat(list.exitCode()).isEqualTo(2);
        assertThat(list.err()).contains("--kafka-properties").contains("no such file");
    }
}
