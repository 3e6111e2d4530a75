package io.stagewise.jobs;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.junit.jupiter.api.Test;

/** The transaction timeout rule: transaction timeout > checkpoint timeout + interval + longest restart delay. */
class StartupChecksTest {
    private static final Duration BROKER_MAX = Duration.ofMinutes(15);

    private static Configuration flink(Duration checkpointTimeout, Duration interval) {
        Configuration conf = new Configuration();
        conf.set(CheckpointingOptions.CHECKPOINTING_TIMEOUT, checkpointTimeout);
        conf.set(CheckpointingOptions.CHECKPOINTING_INTERVAL, interval);
        conf.set(RestartStrategyOptions.RESTART_STRATEGY, "exponential-delay");
        conf.set(RestartStrategyOptions.RESTART_STRATEGY_EXPONENTIAL_DELAY_MAX_BACKOFF, Duration.ofSeconds(30));
        return conf;
    }

    @Test
    void theDefaultsPass() {
        assertThatCode(() -> StartupChecks.transactionTimeout(Duration.ofMinutes(10),
                flink(FlinkSettings.DEFAULT_CHECKPOINT_TIMEOUT, FlinkSettings.DEFAULT_CHECKPOINT_INTERVAL), BROKER_MAX))
                .doesNotThrowAnyException();
    }

    @Test
    void flinksOwnDefaultCheckpointTimeoutEqualToTheTransactionTimeoutIsRefused() {
        // The old pairing: 10 min transaction timeout, Flink's 10 min checkpoint timeout.
        assertThatThrownBy(() -> StartupChecks.transactionTimeout(Duration.ofMinutes(10),
                flink(Duration.ofMinutes(10), Duration.ofSeconds(10)), BROKER_MAX))
                .isInstanceOf(StagewiseException.class)
                .hasMessageContaining("--transaction-timeout")
                .hasMessageContaining("execution.checkpointing.timeout 10 min")
                .hasMessageContaining("restart-strategy");
    }

    @Test
    void theRestartDelayOfAFixedDelayStrategyCounts() {
        Configuration conf = flink(Duration.ofMinutes(2), Duration.ofSeconds(10));
        conf.set(RestartStrategyOptions.RESTART_STRATEGY, "fixed-delay");
        conf.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_DELAY, Duration.ofMinutes(9));
        assertThatThrownBy(() -> StartupChecks.transactionTimeout(Duration.ofMinutes(10), conf, BROKER_MAX))
                .isInstanceOf(StagewiseException.class)
                .hasMessageContaining("9 min");
    }

    @Test
    void aTimeoutAboveTheBrokersMaximumIsRefusedAndALargerBrokerMaximumAllowsIt() {
        Configuration conf = flink(Duration.ofMinutes(2), Duration.ofSeconds(10));
        assertThatThrownBy(() -> StartupChecks.transactionTimeout(Duration.ofMinutes(30), conf, BROKER_MAX))
                .isInstanceOf(StagewiseException.class)
                .hasMessageContaining("transaction.max.timeout.ms of 900000 ms");
        assertThatCode(() -> StartupChecks.transactionTimeout(Duration.ofMinutes(30), conf, Duration.ofHours(1)))
                .doesNotThrowAnyException();
    }
}
