package io.stagewise.gateway.internal;

import java.util.Arrays;

/**
 * How long the last {@value #KEPT} batch requests the gateway executed took, from receipt to
 * response (refused and malformed ones are not counted): what a benchmark compares with a batch
 * latency target. Bounded; thread-safe.
 */
public final class BatchTimes {
    static final int KEPT = 1000;

    private final long[] micros = new long[KEPT];
    private int count;
    private int next;

    public synchronized void record(long tookMicros) {
        micros[next] = tookMicros;
        next = (next + 1) % KEPT;
        count = Math.min(KEPT, count + 1);
    }

    /** The median of the kept batches (microseconds); 0 if none was executed. */
    public synchronized long medianMicros() {
        if (count == 0) {
            return 0;
        }
        long[] kept = Arrays.copyOf(micros, count);
        Arrays.sort(kept);
        return kept[count / 2];
    }
}
