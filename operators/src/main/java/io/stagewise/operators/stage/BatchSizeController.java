package io.stagewise.operators.stage;

import org.apache.flink.annotation.Internal;

/**
 * The batch size of one batching stage on one subtask: additive increase, multiplicative decrease,
 * driven by batch latency against a target and by backlog. Pure logic, no clock, not thread-safe
 * (the caller synchronizes).
 *
 * <ol>
 *   <li>A batch that saw a retryable failure (the whole batch, or any item: 503, 429, timeouts) or
 *       took longer than the target shrinks the size multiplicatively: to at most half of it after
 *       failures, at most {@value #LATENCY_BACKOFF} of it after a slow batch, and at most the size
 *       the measured latency predicts would meet the target ({@code items x target / latency}, latency
 *       taken as growing with the items). Never below the minimum.
 *   <li>Only batches sent after the last decrease can decrease it again (an epoch counter): batches
 *       already in flight at the old size would otherwise shrink it several times for one overload.
 *   <li>A full batch (there was backlog: at least the current size waited) that met the target grows
 *       the size by a fixed step, {@code max(1, (max - min) / 32)}, but not past the size the latency
 *       predicts would meet the target. A batch sent by the linger timer (a quiet stream) never grows it.
 * </ol>
 */
@Internal
public final class BatchSizeController {
    static final double FAILURE_BACKOFF = 0.5;
    static final double LATENCY_BACKOFF = 0.7;
    static final int GROWTH_STEPS = 32;

    private final int min;
    private final int max;
    private final long targetMicros;
    private final int step;
    private int size;
    private long epoch;

    public BatchSizeController(int min, int max, long targetMicros) {
        if (min < 1 || max < min || targetMicros <= 0) {
            throw new IllegalArgumentException("need 1 <= min <= max and a positive target, got " + min + ", " + max
                    + ", " + targetMicros);
        }
        this.min = min;
        this.max = max;
        this.targetMicros = targetMicros;
        this.step = Math.max(1, (max - min) / GROWTH_STEPS);
        this.size = min;
    }

    /** How many items the next batch may hold. */
    public int size() {
        return size;
    }

    /** Pass it back with the batch's outcome ({@link #onBatch}). */
    public long epoch() {
        return epoch;
    }

    /**
     * @param sentAtEpoch {@link #epoch()} when the batch was sent
     * @param items items in the batch
     * @param full whether it was sent because it reached the size (backlog), not by the linger timer
     * @param latencyMicros from send to response
     * @param retryableFailures items that failed retryably (all of them when the whole batch failed)
     */
    public void onBatch(long sentAtEpoch, int items, boolean full, long latencyMicros, int retryableFailures) {
        if (min == max) {
            return;
        }
        long latency = Math.max(1, latencyMicros);
        double predicted = (double) Math.max(1, items) * targetMicros / latency;
        if (retryableFailures > 0 || latency > targetMicros) {
            if (sentAtEpoch != epoch) {
                return; // (2) sent before the last decrease: already accounted for
            }
            double backoff = retryableFailures > 0 ? FAILURE_BACKOFF : LATENCY_BACKOFF;
            double next = Math.min(size * backoff, latency > targetMicros ? predicted : Double.MAX_VALUE);
            size = (int) Math.max(min, Math.floor(next));
            epoch++;
            return;
        }
        if (full && items >= size) {
            // (3) backlog and room under the target: one step, capped by what the latency predicts
            int grown = (int) Math.min((long) size + step, (long) Math.floor(predicted));
            size = Math.min(max, Math.max(size, grown));
        }
    }
}
