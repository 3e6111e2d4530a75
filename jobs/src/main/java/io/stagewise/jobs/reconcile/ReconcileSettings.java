package io.stagewise.jobs.reconcile;

import io.stagewise.jobs.StagewiseException;
import io.stagewise.jobs.payments.PaymentsLedger;
import io.stagewise.operators.retry.RetryLadder;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.TreeSet;

/**
 * Validated settings of one reconciliation: where the source and each target are, and the settle
 * window. Built once, at the edge ({@link ReconcileFlags}); the job is assembled from it alone.
 *
 * @param ledger the ledger database; empty: the ledger classes are not decided
 * @param gatewayUrl base URL of the gateway, for {@code GET /audit/charges}; or
 * @param gatewayJdbcUrl the gateway's PostgreSQL (its {@code gateway_charges} table), read in parallel
 * @param settle ids whose newest input record is younger than this are {@code in-flight} when not done
 * @param kafkaProperties extra client properties ({@code --kafka-property}, {@code --kafka-properties})
 *     for every Kafka client of the run: the job's sources, the watermark's consumer, the repair
 *     producer; never logged
 */
public record ReconcileSettings(String bootstrapServers, String inputTopic, String outputTopic, String dlqTopic,
                                Optional<PaymentsLedger.Database> ledger, Optional<String> gatewayUrl,
                                Optional<String> gatewayJdbcUrl, Duration settle, int maxEventBytes,
                                int parallelism, Map<String, String> kafkaProperties) {
    public ReconcileSettings {
        kafkaProperties = Map.copyOf(kafkaProperties);
        if (gatewayUrl.isPresent() && gatewayJdbcUrl.isPresent()) {
            throw new StagewiseException("give --gateway-url or --gateway-jdbc-url, not both");
        }
        if (settle.isNegative()) {
            throw new StagewiseException("--settle must not be negative, got " + settle);
        }
        if (parallelism < 1) {
            throw new StagewiseException("--parallelism must be positive, got " + parallelism);
        }
    }

    /** {@link #kafkaProperties} as client properties, to be overlaid by what a client must set itself. */
    public Properties kafkaClientProperties() {
        Properties props = new Properties();
        props.putAll(kafkaProperties);
        return props;
    }

    @Override
    public String toString() {
        return "ReconcileSettings{" + bootstrapServers + ", input " + inputTopic + ", output " + outputTopic + ", ledger "
                + ledger + ", kafka properties " + new TreeSet<>(kafkaProperties.keySet()) + "}";
    }

    public boolean chargesKnown() {
        return gatewayUrl.isPresent() || gatewayJdbcUrl.isPresent();
    }

    /**
     * The default settle window: the retry ladder's total delay (an event may wait that long in
     * the retry topics) plus one checkpoint interval (its results become visible at the next
     * checkpoint).
     */
    public static Duration settleWindow(RetryLadder ladder, Duration checkpointInterval) {
        Duration total = checkpointInterval;
        for (int step = 1; step <= ladder.steps(); step++) {
            total = total.plus(ladder.delay(step));
        }
        return total;
    }
}
