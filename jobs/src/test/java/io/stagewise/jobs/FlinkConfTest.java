package io.stagewise.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.GlobalConfiguration;
import org.apache.flink.configuration.PipelineOptions;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.configuration.StateBackendOptions;
import org.junit.jupiter.api.Test;

/** The shipped {@code flink-conf/config.yaml} is production-sane and agrees with the local defaults. */
class FlinkConfTest {
    private static final Configuration SHIPPED =
            GlobalConfiguration.loadConfiguration(Path.of("..", "flink-conf").toAbsolutePath().toString());

    @Test
    void theDefaultTransactionTimeoutPassesTheStartUpCheckUnderTheShippedConfiguration() {
        assertThatCode(() -> StartupChecks.transactionTimeout(StagewiseOptions.TRANSACTION_TIMEOUT.defaultValue(), SHIPPED,
                Duration.ofMinutes(15))).doesNotThrowAnyException();
        assertThat(SHIPPED.get(CheckpointingOptions.CHECKPOINTING_TIMEOUT))
                .isLessThan(StagewiseOptions.TRANSACTION_TIMEOUT.defaultValue());
    }

    @Test
    void heartbeatsStayAtFlinksDefaultsAndTheRescalingCeilingIsSetOnPurpose() {
        assertThat(SHIPPED.keySet()).noneMatch(key -> key.startsWith("heartbeat."));
        assertThat(SHIPPED.get(PipelineOptions.MAX_PARALLELISM)).isEqualTo(FlinkSettings.MAX_PARALLELISM);
    }

    @Test
    void sharedSettingsAgreeWithTheLocalDefaults() {
        Configuration local = FlinkSettings.localDefaults();
        List<ConfigOption<?>> shared = List.of(StateBackendOptions.STATE_BACKEND, CheckpointingOptions.CHECKPOINTING_INTERVAL,
                CheckpointingOptions.INCREMENTAL_CHECKPOINTS, CheckpointingOptions.EXTERNALIZED_CHECKPOINT_RETENTION,
                CheckpointingOptions.MAX_RETAINED_CHECKPOINTS, CheckpointingOptions.CHECKPOINTING_TIMEOUT,
                CheckpointingOptions.TOLERABLE_FAILURE_NUMBER, RestartStrategyOptions.RESTART_STRATEGY,
                RestartStrategyOptions.RESTART_STRATEGY_EXPONENTIAL_DELAY_INITIAL_BACKOFF,
                RestartStrategyOptions.RESTART_STRATEGY_EXPONENTIAL_DELAY_MAX_BACKOFF,
                RestartStrategyOptions.RESTART_STRATEGY_EXPONENTIAL_DELAY_BACKOFF_MULTIPLIER,
                RestartStrategyOptions.RESTART_STRATEGY_EXPONENTIAL_DELAY_RESET_BACKOFF_THRESHOLD,
                RestartStrategyOptions.RESTART_STRATEGY_EXPONENTIAL_DELAY_JITTER_FACTOR,
                PipelineOptions.GENERIC_TYPES, PipelineOptions.MAX_PARALLELISM);
        for (ConfigOption<?> option : shared) {
            assertThat(SHIPPED.contains(option)).as(option.key() + " in config.yaml").isTrue();
            assertThat(String.valueOf(SHIPPED.get(option))).as(option.key())
                    .isEqualToIgnoringCase(String.valueOf(local.get(option)));
        }
    }
}
