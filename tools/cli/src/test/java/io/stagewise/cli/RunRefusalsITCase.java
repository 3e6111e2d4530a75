package io.stagewise.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.stagewise.jobs.Topics;
import io.stagewise.testkit.EmbeddedKafka;
import io.stagewise.testkit.FreePorts;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code run} refuses, before it touches anything, a start that would lose events or crash-loop the
 * job, with one line naming the setting (docs/cli.md, docs/operations.md). Each of these started a
 * job on the old code: the {@link Timeout} turns that into a failure instead of a hang.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class RunRefusalsITCase {
    @TempDir
    static Path tmp;

    private static EmbeddedKafka kafka;

    @BeforeAll
    static void start() {
        kafka = EmbeddedKafka.start(tmp.resolve("kafka"));
        Topics.createAll(kafka.bootstrapServers(), 1, List.of("fresh", "committed", "retained", "timeouts"));
    }

    @AfterAll
    static void stop() {
        kafka.close();
    }

    private static CliRun run(String input, String... more) {
        List<String> args = new ArrayList<>(List.of("run", "--bootstrap-servers", kafka.bootstrapServers(),
                "--input-topic", input, "--workflow", "dedup-only",
                "--checkpoint-dir", tmp.resolve("checkpoints-" + input).toString(),
                "--dashboard-port", Integer.toString(FreePorts.pick())));
        args.addAll(List.of(more));
        return CliRun.stagewise(args.toArray(String[]::new));
    }

    @Test
    void dedupOnlyWithALedgerIsRefused() {
        CliRun run = run("fresh", "--jdbc-url", "jdbc:postgresql://127.0.0.1:1/ledger");
        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.err()).contains("--workflow dedup-only").contains("--jdbc-url");
    }

    @Test
    void aRetainedCheckpointWithoutRestoreIsRefused() throws Exception {
        Path chk = tmp.resolve("checkpoints-retained").resolve("0123456789abcdef0123456789abcdef").resolve("chk-7");
        Files.createDirectories(chk);
        Files.write(chk.resolve("_metadata"), new byte[] {1});
        CliRun run = run("retained");
        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.err()).contains("chk-7").contains("--restore latest").contains("--fresh");
    }

    @Test
    void committedOffsetsWithoutRestoreAreRefused() throws Exception {
        try (Admin admin = Topics.admin(kafka.bootstrapServers())) {
            admin.alterConsumerGroupOffsets("stagewise-committed",
                    Map.of(new TopicPartition("committed", 0), new OffsetAndMetadata(0))).all().get(10, TimeUnit.SECONDS);
        }
        CliRun run = run("committed");
        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.err()).contains("consumer group 'stagewise-committed' has committed offsets")
                .contains("--restore latest").contains("--fresh");
    }

    @Test
    void aTransactionTimeoutTheCheckpointsCanOutliveIsRefused() {
        CliRun run = run("timeouts", "--transaction-timeout", "1min", "--checkpoint-interval", "10s");
        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.err()).contains("--transaction-timeout").contains("execution.checkpointing.timeout")
                .contains("execution.checkpointing.interval");
    }

    @Test
    void aTransactionTimeoutAboveTheBrokersMaximumIsRefusedNamingTheBrokerSetting() {
        CliRun run = run("timeouts", "--transaction-timeout", "20min");
        assertThat(run.exitCode()).isEqualTo(2);
        assertThat(run.err()).contains("transaction.max.timeout.ms").contains("900000").contains("--transaction-timeout");
    }
}
