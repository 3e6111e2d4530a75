package io.stagewise.jobs;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.flink.annotation.Internal;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.flink.util.TimeUtils;
import org.apache.kafka.common.TopicPartition;

/**
 * Checks run before the pipeline starts, each refusing with a message that names the settings to
 * change: a configuration that would lose committed output or crash-loop the job never starts.
 */
@Internal
public final class StartupChecks {
    private StartupChecks() {}

    /**
     * The Kafka transaction of a checkpoint stays open from the checkpoint's start until Flink
     * commits it after the checkpoint completes, or after the restart that follows a failure. If
     * the broker aborts it first (at {@code transaction.timeout.ms}), its output, dead letters and
     * retry records are lost while the checkpoint counts as done. So refuse unless
     * {@code transaction timeout > checkpoint timeout + checkpoint interval + the longest restart
     * delay}, and unless the broker allows that timeout.
     *
     * @param brokerMax the broker's {@code transaction.max.timeout.ms}
     */
    public static void transactionTimeout(Duration transactionTimeout, ReadableConfig flink, Duration brokerMax) {
        if (transactionTimeout.compareTo(brokerMax) > 0) {
            throw new StagewiseException("--transaction-timeout (" + StagewiseOptions.TRANSACTION_TIMEOUT.key() + ") "
                    + format(transactionTimeout) + " exceeds the broker's transaction.max.timeout.ms of "
                    + brokerMax.toMillis() + " ms: lower it, or raise transaction.max.timeout.ms on the brokers");
        }
        Duration checkpointTimeout = flink.get(CheckpointingOptions.CHECKPOINTING_TIMEOUT);
        Duration interval = flink.getOptional(CheckpointingOptions.CHECKPOINTING_INTERVAL).orElse(Duration.ZERO);
        Duration restart = maxRestartDelay(flink);
        Duration needed = checkpointTimeout.plus(interval).plus(restart);
        if (transactionTimeout.compareTo(needed) <= 0) {
            throw new StagewiseException("--transaction-timeout (" + StagewiseOptions.TRANSACTION_TIMEOUT.key() + ") "
                    + format(transactionTimeout) + " must exceed execution.checkpointing.timeout " + format(checkpointTimeout)
                    + " + execution.checkpointing.interval " + format(interval) + " + the longest restart delay "
                    + format(restart) + " (restart-strategy) = " + format(needed)
                    + ", or Kafka may abort a transaction Flink still means to commit: raise the transaction timeout "
                    + "(at most the broker's transaction.max.timeout.ms, " + brokerMax.toMillis() + " ms) or lower those");
        }
    }

    /** The longest a restart waits before the job runs again, under the restart strategy in force. */
    static Duration maxRestartDelay(ReadableConfig flink) {
        String strategy = flink.getOptional(RestartStrategyOptions.RESTART_STRATEGY).orElse("exponential-delay");
        switch (strategy.toLowerCase()) {
            case "none":
            case "off":
            case "disable":
                return Duration.ZERO;
            case "fixed-delay":
            case "fixeddelay":
                return flink.get(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_DELAY);
            case "failure-rate":
            case "failurerate":
                return flink.get(RestartStrategyOptions.RESTART_STRATEGY_FAILURE_RATE_DELAY);
            default:
                return flink.get(RestartStrategyOptions.RESTART_STRATEGY_EXPONENTIAL_DELAY_MAX_BACKOFF);
        }
    }

    /** The consumer group's committed offsets on the topics the pipeline reads. */
    static Map<TopicPartition, OffsetAndMetadata> committedOffsets(Admin admin, PipelineSettings settings) {
        try {
            Map<TopicPartition, OffsetAndMetadata> all = admin.listConsumerGroupOffsets(settings.groupId())
                    .partitionsToOffsetAndMetadata().get(10, TimeUnit.SECONDS);
            List<String> topics = settings.sourceTopics();
            Map<TopicPartition, OffsetAndMetadata> ours = new HashMap<>();
            all.forEach((tp, offset) -> {
                if (offset != null && topics.contains(tp.topic())) {
                    ours.put(tp, offset);
                }
            });
            return ours;
        } catch (ExecutionException | TimeoutException e) {
            throw new StagewiseException("cannot read the committed offsets of consumer group '" + settings.groupId()
                    + "' (--group-id): " + Topics.rootMessage(e));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StagewiseException("interrupted while reading the offsets of consumer group '" + settings.groupId() + "'");
        }
    }

    private static String format(Duration d) {
        return TimeUtils.formatWithHighestUnit(d);
    }
}
