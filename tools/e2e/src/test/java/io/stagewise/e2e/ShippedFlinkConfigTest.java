package io.stagewise.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.stagewise.jobs.StagewiseOptions;
import io.stagewise.operators.stage.http.HttpClients;
import java.time.Duration;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.CoreOptions;
import org.apache.flink.configuration.GlobalConfiguration;
import org.apache.flink.configuration.HeartbeatManagerOptions;
import org.apache.flink.configuration.PipelineOptions;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.junit.jupiter.api.Test;

/**
 * {@code flink-conf/config.yaml} as Flink itself loads it: production values, not the test ones
 * (the suite's fast heartbeats live in {@code tools/e2e/src/test/resources/cluster/}).
 */
class ShippedFlinkConfigTest {
    private final Configuration conf =
            GlobalConfiguration.loadConfiguration(FlinkConfigFiles.shippedDir().toAbsolutePath().toString());

    @Test
    void heartbeatsAreFlinksDefaults() {
        assertThat(conf.getOptional(HeartbeatManagerOptions.HEARTBEAT_INTERVAL)).as("heartbeat.interval").isEmpty();
        assertThat(conf.getOptional(HeartbeatManagerOptions.HEARTBEAT_TIMEOUT)).as("heartbeat.timeout").isEmpty();
        assertThat(conf.getOptional(HeartbeatManagerOptions.HEARTBEAT_RPC_FAILURE_THRESHOLD))
                .as("heartbeat.rpc-failure-threshold").isEmpty();
    }

    @Test
    void taskManagersRunTheCommonPoolWithAtLeastTwoThreads() {
        // with 1 (a TaskManager of 2 CPUs or fewer) every HTTP response of a remote stage starts a thread (HttpClients)
        assertThat(conf.get(CoreOptions.FLINK_TM_JVM_OPTIONS)).as("env.java.opts.taskmanager")
                .contains("-D" + HttpClients.COMMON_POOL_PARALLELISM + "=2");
    }

    @Test
    void maxParallelismIsSetOnPurpose() {
        assertThat(conf.getOptional(PipelineOptions.MAX_PARALLELISM)).as("pipeline.max-parallelism").hasValue(128);
    }

    @Test
    void checkpointTimeoutLeavesRoomInsideTheKafkaTransactionTimeout() {
        Duration timeout = conf.get(CheckpointingOptions.CHECKPOINTING_TIMEOUT);
        Duration interval = conf.getOptional(CheckpointingOptions.CHECKPOINTING_INTERVAL).orElseThrow();
        Duration maxRestartDelay = conf.get(RestartStrategyOptions.RESTART_STRATEGY_EXPONENTIAL_DELAY_MAX_BACKOFF);
        Duration transactionTimeout = StagewiseOptions.TRANSACTION_TIMEOUT.defaultValue();
        assertThat(timeout.plus(interval).plus(maxRestartDelay))
                .as("execution.checkpointing.timeout + interval + restart max-backoff must stay below the Kafka "
                        + "transaction timeout (stagewise.kafka.transaction-timeout, %s)", transactionTimeout)
                .isLessThan(transactionTimeout);
    }

    @Test
    void toleratesAFewFailedCheckpointsAndRetainsThem() {
        assertThat(conf.getOptional(CheckpointingOptions.TOLERABLE_FAILURE_NUMBER))
                .as("execution.checkpointing.tolerable-failed-checkpoints").hasValueSatisfying(n -> assertThat(n).isPositive());
        assertThat(conf.get(CheckpointingOptions.EXTERNALIZED_CHECKPOINT_RETENTION).name()).isEqualTo("RETAIN_ON_CANCELLATION");
        assertThat(conf.get(PipelineOptions.GENERIC_TYPES)).isFalse();
        assertThat(conf.get(RestartStrategyOptions.RESTART_STRATEGY)).isEqualTo("exponential-delay");
    }
}
