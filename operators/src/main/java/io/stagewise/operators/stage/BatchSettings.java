package io.stagewise.operators.stage;

import org.apache.flink.annotation.PublicEvolving;
import java.io.Serializable;
import java.time.Duration;
import java.util.Objects;

/**
 * How a batching remote stage ({@link Workflow.Builder#batched}) groups calls: a batch goes out
 * when it holds the current batch size or {@code linger} after its first item, whichever comes
 * first; the size adapts between {@code minBatch} and {@code maxBatch} from the observed batch
 * latency against {@code latencyTarget} and from the backlog ({@link BatchSizeController}).
 * {@code minBatch == maxBatch} fixes the size. At most {@code maxBatchesInFlight} batches per
 * subtask are in flight (for an adaptive size, the controller's window within that: it opens when
 * the size cannot grow and halves when the dependency refuses a whole batch); items beyond them
 * wait in the batcher, so a slow dependency gets bigger batches before more requests, and the stage
 * takes in no more than twice the size x window ({@link BatchingStage#maxCallsNow()}). Validated on
 * construction.
 */
@PublicEvolving
public final class BatchSettings implements Serializable {
    private static final long serialVersionUID = 1L;

    public static final Duration DEFAULT_LINGER = Duration.ofMillis(10);
    public static final int DEFAULT_MIN_BATCH = 1;
    public static final int DEFAULT_MAX_BATCH = 100;
    public static final Duration DEFAULT_LATENCY_TARGET = Duration.ofMillis(200);
    public static final int DEFAULT_MAX_BATCHES_IN_FLIGHT = 4;
    /** A sanity bound: no batch endpoint we know takes more items per request. */
    public static final int MAX_BATCH_LIMIT = 10_000;

    private final Duration linger;
    private final int minBatch;
    private final int maxBatch;
    private final Duration latencyTarget;
    private final int maxBatchesInFlight;

    public BatchSettings(Duration linger, int minBatch, int maxBatch, Duration latencyTarget) {
        this(linger, minBatch, maxBatch, latencyTarget, DEFAULT_MAX_BATCHES_IN_FLIGHT);
    }

    /**
     * @param maxBatchesInFlight batches of one stage in flight at once per subtask; further items
     *     wait in the batcher (the backlog that lets the size grow) rather than open more requests
     * @throws IllegalArgumentException naming the setting (its flag) that is out of range
     */
    public BatchSettings(Duration linger, int minBatch, int maxBatch, Duration latencyTarget, int maxBatchesInFlight) {
        Objects.requireNonNull(linger, "linger");
        Objects.requireNonNull(latencyTarget, "latencyTarget");
        if (linger.isNegative() || linger.compareTo(Duration.ofSeconds(10)) > 0) {
            throw new IllegalArgumentException("--batch-linger (stagewise.batch.linger) must be in [0, 10s], got " + linger);
        }
        if (minBatch < 1 || minBatch > MAX_BATCH_LIMIT) {
            throw new IllegalArgumentException("--min-batch (stagewise.batch.min-size) must be in [1, " + MAX_BATCH_LIMIT
                    + "], got " + minBatch);
        }
        if (maxBatch < minBatch || maxBatch > MAX_BATCH_LIMIT) {
            throw new IllegalArgumentException("--max-batch (stagewise.batch.max-size) must be in [--min-batch ("
                    + minBatch + "), " + MAX_BATCH_LIMIT + "], got " + maxBatch);
        }
        if (latencyTarget.isNegative() || latencyTarget.isZero()) {
            throw new IllegalArgumentException("--batch-latency-target (stagewise.batch.latency-target) must be positive, got "
                    + latencyTarget);
        }
        if (maxBatchesInFlight < 1 || maxBatchesInFlight > 1000) {
            throw new IllegalArgumentException("--max-batches-in-flight (stagewise.batch.max-in-flight) must be in [1, 1000], "
                    + "got " + maxBatchesInFlight);
        }
        this.maxBatchesInFlight = maxBatchesInFlight;
        this.linger = linger;
        this.minBatch = minBatch;
        this.maxBatch = maxBatch;
        this.latencyTarget = latencyTarget;
    }

    public static BatchSettings defaults() {
        return new BatchSettings(DEFAULT_LINGER, DEFAULT_MIN_BATCH, DEFAULT_MAX_BATCH, DEFAULT_LATENCY_TARGET);
    }

    public Duration linger() {
        return linger;
    }

    public int minBatch() {
        return minBatch;
    }

    public int maxBatch() {
        return maxBatch;
    }

    public Duration latencyTarget() {
        return latencyTarget;
    }

    public int maxBatchesInFlight() {
        return maxBatchesInFlight;
    }

    public boolean adaptive() {
        return minBatch < maxBatch;
    }

    @Override
    public String toString() {
        return "BatchSettings{linger=" + linger + ", minBatch=" + minBatch + ", maxBatch=" + maxBatch
                + ", latencyTarget=" + latencyTarget + ", maxBatchesInFlight=" + maxBatchesInFlight + "}";
    }
}
