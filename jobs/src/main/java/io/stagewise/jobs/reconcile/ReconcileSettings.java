package io.stagewise.jobs.reconcile;

import io.stagewise.jobs.StagewiseException;
import io.stagewise.jobs.payments.PaymentsLedger;
import io.stagewise.operators.retry.RetryLadder;
import java.time.Duration;
import java.util.Optional;

/**
 * Validated settings of one reconciliation: where the source and each target are, and the settle
 * window. Built once, at the edge ({@link ReconcileFlags}); the job is assembled from it alone.
 *
 * @param ledger the ledger database; empty: the ledger classes are not decided
 * @param gatewayUrl base URL of the gateway, for {@code GET /audit/charges}; or
 * @param gatewayJdbcUrl the gateway's PostgreSQL (its {@code gateway_charges} table), read in parallel
 * @param settle ids whose newest input record is younger than this are {@code in-flight} when not done
 */
public record ReconcileSettings(String bootstrapServers, String inputTopic, String outputTopic, String dlqTopic,
                                Optional<PaymentsLedger.Database> ledger, Optional<String> gatewayUrl,
                                Optional<String> gatewayJdbcUrl, Duration settle, int maxEventBytes,
                                int parallelism) {
    public ReconcileSettings {
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
