package io.stagewise.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stagewise.jobs.flags.FlagBindings;
import io.stagewise.jobs.flags.PipelineFlags;
import io.stagewise.operators.stage.StageSettings;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.CoreOptions;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.ParseResult;

/**
 * Settings precedence (docs/operations.md): an explicit flag, then the Flink configuration
 * ({@code -D}, config.yaml, the cluster's), then Stagewise's default. Each layer proven on its
 * own, on a cluster launch: the job's own configuration is what {@code StreamContextEnvironment}
 * would layer over the cluster's, so it must hold only flags and defaults the cluster lacks.
 */
class SettingsPrecedenceTest {
    private static PipelineLaunch launch(Configuration cluster, String... args) {
        PipelineFlags flags = new PipelineFlags();
        List<String> all = new ArrayList<>(List.of("--bootstrap-servers", "kafka:9092", "--workflow", "dedup-only"));
        all.addAll(List.of(args));
        ParseResult parsed = new CommandLine(flags).setDefaultValueProvider(new FlagBindings())
                .parseArgs(all.toArray(String[]::new));
        return PipelineLaunch.of(flags, parsed, true, cluster);
    }

    private static StreamExecutionEnvironment env(Configuration cluster, PipelineLaunch launch) {
        StreamExecutionEnvironment env = new StreamExecutionEnvironment(cluster);
        env.configure(launch.jobConfiguration());
        return env;
    }

    @Test
    void withoutFlagOrConfigurationStagewiseDefaultsApply() {
        Configuration cluster = new Configuration();
        PipelineLaunch launch = launch(cluster);
        PipelineSettings settings = launch.settings();
        assertThat(launch.effectiveConfiguration().get(CheckpointingOptions.CHECKPOINTING_INTERVAL))
                .isEqualTo(FlinkSettings.DEFAULT_CHECKPOINT_INTERVAL);
        assertThat(launch.effectiveConfiguration().get(CheckpointingOptions.CHECKPOINTING_TIMEOUT))
                .isEqualTo(FlinkSettings.DEFAULT_CHECKPOINT_TIMEOUT);
        assertThat(settings.stages().retry().multiplier()).isEqualTo(StagewiseOptions.RETRY_MULTIPLIER.defaultValue());
        assertThat(settings.stages().ladder().steps()).isEqualTo(StagewiseOptions.RETRY_TOPICS.defaultValue());
        assertThat(settings.ledgerTransactionPrefix()).isEqualTo("stagewise-payments-ledger");
        // No flag, no configuration: the job does not pin parallelism.
        assertThat(launch.jobConfiguration().getOptional(CoreOptions.DEFAULT_PARALLELISM)).isEmpty();
    }

    @Test
    void theFlinkConfigurationWinsOverStagewiseDefaults() {
        Configuration cluster = new Configuration();
        cluster.set(CheckpointingOptions.CHECKPOINTING_INTERVAL, Duration.ofSeconds(5));
        cluster.set(CoreOptions.DEFAULT_PARALLELISM, 3);
        cluster.setString("stagewise.retry.multiplier", "3.0");
        cluster.setString("stagewise.retry.max-backoff", "7s");
        cluster.setString("stagewise.retry-topics.count", "2");
        cluster.setString("stagewise.ledger.transaction-id-prefix", "ledger-from-config");
        PipelineLaunch launch = launch(cluster, "-Dstagewise.dedup.ttl=3d");
        PipelineSettings settings = launch.settings();

        assertThat(launch.jobConfiguration().toMap()).doesNotContainKeys(
                CheckpointingOptions.CHECKPOINTING_INTERVAL.key(), CoreOptions.DEFAULT_PARALLELISM.key());
        StreamExecutionEnvironment env = env(cluster, launch);
        assertThat(env.getParallelism()).isEqualTo(3);
        assertThat(env.getCheckpointConfig().getCheckpointInterval()).isEqualTo(5_000);
        assertThat(settings.stages().retry().multiplier()).isEqualTo(3.0);
        assertThat(settings.stages().retry().maxBackoff()).isEqualTo(Duration.ofSeconds(7));
        assertThat(settings.stages().ladder().steps()).isEqualTo(2);
        assertThat(settings.stages().stateTtl()).isEqualTo(Duration.ofDays(3));
        assertThat(settings.ledgerTransactionPrefix()).isEqualTo("ledger-from-config");
        assertThat(settings.jobParameters()).containsEntry("stagewise.retry.multiplier", "3.0");
    }

    @Test
    void anExplicitFlagWinsOverTheFlinkConfiguration() {
        Configuration cluster = new Configuration();
        cluster.set(CheckpointingOptions.CHECKPOINTING_INTERVAL, Duration.ofSeconds(5));
        cluster.set(CoreOptions.DEFAULT_PARALLELISM, 3);
        cluster.setString("stagewise.retry-topics.count", "2");
        cluster.setString("stagewise.ordering", "per-key");
        PipelineLaunch launch = launch(cluster, "--checkpoint-interval", "2s", "--parallelism", "4",
                "--retry-topics", "1", "--ordering", "unordered", "-Dstagewise.retry-topics.count=5");
        PipelineSettings settings = launch.settings();

        StreamExecutionEnvironment env = env(cluster, launch);
        assertThat(env.getParallelism()).isEqualTo(4);
        assertThat(env.getCheckpointConfig().getCheckpointInterval()).isEqualTo(2_000);
        assertThat(settings.stages().ladder().steps()).isEqualTo(1);
        assertThat(settings.stages().perKeyOrdering()).isFalse();
    }

    @Test
    void aBadValueFromTheConfigurationIsNamedAtTheEdge() {
        Configuration cluster = new Configuration();
        cluster.setString("stagewise.ordering", "sorted");
        assertThatThrownBy(() -> launch(cluster).settings())
                .isInstanceOf(StagewiseException.class)
                .hasMessageContaining("stagewise.ordering");
    }

    @Test
    void theInFlightLimitFlagsAndTheirConfigurationKeysSetTheStageSettings() {
        Configuration cluster = new Configuration();
        cluster.setString("stagewise.stage.concurrency", "adaptive");
        cluster.setString("stagewise.stage.min-in-flight", "3");
        PipelineSettings fromConfig = launch(cluster).settings();
        assertThat(fromConfig.stages().concurrency()).isEqualTo(StageSettings.Concurrency.ADAPTIVE);
        assertThat(fromConfig.stages().minInFlight()).isEqualTo(3);

        PipelineSettings fromFlags = launch(cluster, "--concurrency", "fixed", "--min-in-flight", "5",
                "--max-in-flight", "20").settings();
        assertThat(fromFlags.stages().concurrency()).isEqualTo(StageSettings.Concurrency.FIXED);
        assertThat(fromFlags.stages().minInFlight()).isEqualTo(5);
        assertThat(fromFlags.stages().maxInFlight()).isEqualTo(20);
        assertThat(fromFlags.jobParameters()).containsEntry("stagewise.stage.concurrency", "fixed")
                .containsEntry("stagewise.stage.min-in-flight", "5");

        assertThat(launch(new Configuration()).settings().stages().concurrency())
                .isEqualTo(StageSettings.Concurrency.FIXED);
    }

    @Test
    void aMinimumInFlightLimitAboveTheMaximumIsRefusedAtStartNamingTheSetting() {
        assertThatThrownBy(() -> launch(new Configuration(), "--min-in-flight", "10", "--max-in-flight", "4").settings())
                .isInstanceOf(StagewiseException.class)
                .hasMessageContaining("--min-in-flight")
                .hasMessageContaining("stagewise.stage.min-in-flight")
                .hasMessageContaining("got 10");
        assertThatThrownBy(() -> launch(new Configuration(), "--concurrency", "sometimes"))
                .hasMessageContaining("concurrency must be 'fixed' or 'adaptive'");
    }

    @Test
    void aMaximumBatchLargerThanTheMaximumInFlightIsRefusedAtStartNamingBothFlags() {
        // the engine lets at most --max-in-flight items of a stage out per subtask: such a batch never fills
        assertThatThrownBy(() -> launch(new Configuration(), "--max-batch", "200", "--max-in-flight", "100").settings())
                .isInstanceOf(StagewiseException.class)
                .hasMessageContaining("--max-batch (stagewise.batch.max-size) 200")
                .hasMessageContaining("--max-in-flight (stagewise.stage.max-in-flight) 100");
        assertThat(launch(new Configuration(), "--max-batch", "100", "--max-in-flight", "100").settings()
                .batching().orElseThrow().maxBatch()).isEqualTo(100);
        // left at its default, it follows a lower --max-in-flight
        assertThat(launch(new Configuration(), "--max-in-flight", "20").settings()
                .batching().orElseThrow().maxBatch()).isEqualTo(20);
        // with batching off the batch flags are not used, so nothing to refuse
        assertThat(launch(new Configuration(), "--batching", "off", "--max-batch", "200", "--max-in-flight", "100")
                .settings().batching()).isEmpty();
    }

    @Test
    void aCheckpointUriIsKeptAndABarePathBecomesALocalUri() {
        PipelineLaunch s3 = launch(new Configuration(), "--checkpoint-dir", "s3://bucket/checkpoints");
        assertThat(s3.effectiveConfiguration().get(CheckpointingOptions.CHECKPOINTS_DIRECTORY))
                .isEqualTo("s3://bucket/checkpoints");
        PipelineLaunch local = launch(new Configuration(), "--checkpoint-dir", "/var/lib/x y");
        assertThat(local.effectiveConfiguration().get(CheckpointingOptions.CHECKPOINTS_DIRECTORY))
                .isEqualTo("file:/var/lib/x y");
    }
}
