package io.stagewise.operators.stage;

import java.util.ArrayDeque;
import java.util.function.LongSupplier;
import org.apache.flink.annotation.Internal;

/**
 * The batch size and the batches in flight (the window) of one batching stage on one subtask:
 * additive increase, multiplicative decrease, driven by batch latency against a target, by backlog
 * and by whole-batch drops. Pure logic, its clock passed in, not thread-safe (the caller synchronizes).
 *
 * <p>The size answers latency (a batch's latency grows with its items); the window answers the
 * dependency's capacity (items per second = size x window / latency): a dependency that refuses a
 * whole batch (503, 429, a timeout: {@link InFlightLimit#isDrop}) gets fewer batches at once, not
 * just smaller ones. The window starts at one batch and opens only when the size cannot grow, so a
 * slow dependency gets bigger batches before it gets more requests.
 *
 * <ol>
 *   <li>A batch that saw a retryable failure of some items (503, 429, timeouts of single items)
 *       shrinks the size to at most half of it. A batch that took longer than the target shrinks it
 *       to at most {@value #LATENCY_BACKOFF} of it and to at most the size its latency predicts
 *       would meet the target ({@code items x target / latency}, latency taken as growing with the
 *       items), if it took more than {@value #OVERLOAD_FACTOR} times the target or the smoothed
 *       prediction of the last few batches is under the size too: one batch a little over among
 *       faster ones is jitter, and cutting on it kept the size far under the target. Never below
 *       the minimum.
 *   <li>Only batches sent after the last decrease can decrease it again (an epoch counter): batches
 *       already in flight at the old size would otherwise shrink it several times for one overload.
 *   <li>A batch with backlog that met the target grows the size by a fixed step,
 *       {@code max(1, (max - min) / 32)}, but not past the size the latency predicts would meet the
 *       target; when the size cannot grow (latency or the maximum bounds it, or the batch went with
 *       fewer items than the size), the window opens by one batch instead, up to the maximum.
 *       Backlog: the batch went full, or its items waited for a batch slot (every slot was taken
 *       when they came). Items that waited for a slot yet did not fill a batch come in slower than
 *       a batch takes: a bigger size would not fill, more batches at once take them sooner. A batch
 *       of a quiet stream (sent by the linger timer, no item waited for a slot) grows nothing.
 *   <li>A whole batch dropped (an overload) sets the overload threshold (TCP's ssthresh) to half the
 *       items that were allowed out then ({@code size x window / 2}), halves the window (at least 1)
 *       and halves the size, the size also to at most the threshold's share of the window. A drop
 *       refused with 503 or 429 (the dependency is up and says "too much") also caps the threshold
 *       at {@value #RATE_BACKOFF} of the items out at which the dependency would take what it took
 *       in the last second (Little's law: items answered by good batches in
 *       that second x the good batches' latency), but not below a quarter of the halved threshold
 *       ({@link #RATE_CUT_FLOOR}). Halving alone is blind to a dependency that let a burst through
 *       before refusing (a token bucket): half of what was out is still over its rate, and each
 *       further halving costs another refused batch. A timeout says nothing about the rate, so it
 *       only halves. Rule (2) applies to drops among themselves: only a batch sent after
 *       the last drop's cut cuts again, whatever latency cuts happened in between.
 *   <li>Once a drop was seen, growth (3) stops at the threshold; at or past it, the items allowed out
 *       grow by one (the size, or else the window) only after {@value #PROBE_BATCHES} good batches with backlog
 *       in a row: the next probe of a dependency that refused costs one batch, seldom.
 *   <li>A fixed size ({@code min == max}) never moves, nor does its window.
 *   <li>A batch that timed out sooner than the target after it was sent says nothing: its items
 *       spent their call timeout waiting in the batcher (a queue longer than the dependency drains
 *       in a timeout), not at the dependency. Taken as a drop, it would shrink the size, which
 *       makes the queue drain slower, so more items time out while they wait: a spiral down to
 *       the minimum size.
 *   <li>After a refusal (503 or 429) no batch goes for one good batch latency ({@link #holdNanos()}).
 *       A rate limiter that refused is out of tokens: a batch sent at once is refused too, however
 *       much smaller (seen: 97, then 36, then 18 items refused in a row). Waiting lets it refill;
 *       one good latency is the pace it answered at before, not a measure of its refill, so a
 *       larger next batch may still be refused (seen: 142, then 42 after the hold).
 * </ol>
 */
@Internal
public final class BatchSizeController {
    static final double FAILURE_BACKOFF = 0.5;
    static final double LATENCY_BACKOFF = 0.9;
    /** A batch this many times over the target cuts on its own latency, not the smoothed one (1). */
    static final int OVERLOAD_FACTOR = 2;
    static final int GROWTH_STEPS = 32;
    /** Good batches with backlog in a row per item of growth at or past the overload threshold (5). */
    static final int PROBE_BATCHES = 64;
    /** The share of the rate the dependency took in the last second that a prompt drop leaves out (4). */
    static final double RATE_BACKOFF = 0.7;
    /**
     * How far below the halved threshold the rate of (4) may cut at once: to a quarter of it, the
     * three further halvings a cascade would have made. A second in which the controller was itself
     * still ramping up shows less than the dependency can take; cut on that alone, the size fell to
     * 2-3 where the dependency took 8 per batch, and items queued behind it ran out their call
     * timeout in the batcher.
     */
    static final int RATE_CUT_FLOOR = 4;
    private static final long SECOND_NANOS = 1_000_000_000L;

    private final int min;
    private final int max;
    private final long targetMicros;
    private final int maxWindow;
    private final int step;
    private int size;
    private int window;
    private long epoch;
    /** The epoch the last drop (4) started: batches sent before it reported that overload. */
    private long dropEpoch;
    /** Items out (size x window) at which growth turns to probing (4, 5); 0 until a drop is seen. */
    private long threshold;
    /** Good batches with backlog since the last decrease or probe. */
    private int good;
    private final LongSupplier nanoTime;
    /** Batches answered in the last second, not dropped: {answered at (nanos), items that succeeded}. */
    private final ArrayDeque<long[]> taken = new ArrayDeque<>();
    private long takenItems;
    /** Smoothed latency of the batches that were not dropped; 0 until one was answered. */
    private long goodLatencyMicros;
    /**
     * Smoothed size that meets the target ({@code items x target / latency} of the batches that were
     * not dropped, rule 1); 0 until one was answered.
     */
    private double fits;
    /** Whether a refusal holds the next batch back (8), and until when (nanos). */
    private boolean holding;
    private long holdUntilNanos;

    /**
     * @param nanoTime the clock the rate of rule (4) is measured by ({@code System::nanoTime})
     */
    public BatchSizeController(int min, int max, long targetMicros, int maxWindow, LongSupplier nanoTime) {
        if (min < 1 || max < min || targetMicros <= 0 || maxWindow < 1) {
            throw new IllegalArgumentException("need 1 <= min <= max, a positive target and a window >= 1, got " + min
                    + ", " + max + ", " + targetMicros + ", " + maxWindow);
        }
        this.min = min;
        this.max = max;
        this.targetMicros = targetMicros;
        this.maxWindow = maxWindow;
        this.nanoTime = nanoTime;
        this.step = Math.max(1, (max - min) / GROWTH_STEPS);
        this.size = min;
        // a fixed size keeps its fixed window; an adaptive one opens it as rule (3) says
        this.window = min == max ? maxWindow : 1;
    }

    /** How many items the next batch may hold. */
    public int size() {
        return size;
    }

    /** How many batches may be in flight at once. */
    public int window() {
        return window;
    }

    /** Items out (size x window) past which growth only probes (4, 5); 0 until a drop is seen. */
    public long threshold() {
        return threshold;
    }

    /**
     * (8) How long the next batch must wait (nanoseconds): after a refusal, until one good batch
     * latency has passed; else 0.
     */
    public long holdNanos() {
        return holding ? Math.max(0, holdUntilNanos - nanoTime.getAsLong()) : 0;
    }

    /** Pass it back with the batch's outcome ({@link #onBatch}). */
    public long epoch() {
        return epoch;
    }

    /** How a whole batch failed for overload ({@link InFlightLimit#isDrop}), if it did. */
    public enum Drop {
        /** The batch was answered (its items may have failed one by one). */
        NONE,
        /** Refused as a whole with 503 or 429: the dependency is up and says "too much". */
        REFUSED,
        /** No answer by the batch's deadline. */
        TIMED_OUT;

        /**
         * How the whole batch failed with {@code failure}:
         * a drop as {@link InFlightLimit#isDrop} sorts it, or none.
         */
        static Drop of(Throwable failure) {
            if (!InFlightLimit.isDrop(failure)) {
                return NONE;
            }
            return FailureClass.unwrap(failure) instanceof RetryableStageException ? REFUSED : TIMED_OUT;
        }
    }

    /** {@link #onBatch(long, int, boolean, long, int, Drop)} of a batch that was not dropped as a whole. */
    public void onBatch(long sentAtEpoch, int items, boolean backlog, long latencyMicros, int retryableFailures) {
        onBatch(sentAtEpoch, items, backlog, latencyMicros, retryableFailures, Drop.NONE);
    }

    private void recordTaken(long now, int succeeded, long latencyMicros) {
        goodLatencyMicros = goodLatencyMicros == 0 ? latencyMicros : (3 * goodLatencyMicros + latencyMicros) / 4;
        taken.addLast(new long[] {now, succeeded});
        takenItems += succeeded;
        takenInLastSecond(now);
    }

    /** Items of good batches answered in the last second (forgets the older ones). */
    private long takenInLastSecond(long now) {
        while (!taken.isEmpty() && now - taken.peekFirst()[0] >= SECOND_NANOS) {
            takenItems -= taken.pollFirst()[1];
        }
        return takenItems;
    }

    /**
     * @param sentAtEpoch {@link #epoch()} when the batch was sent
     * @param items items in the batch
     * @param backlog whether items waited for it: it reached the size, or its items waited for a
     *     batch slot (the window was full when they came), not a quiet stream's linger
     * @param latencyMicros from send to response
     * @param retryableFailures items that failed retryably (all of them when the whole batch failed)
     * @param drop whether the whole batch failed with an overload answer (503, 429) or a timeout
     */
    public void onBatch(long sentAtEpoch, int items, boolean backlog, long latencyMicros, int retryableFailures,
                        Drop drop) {
        if (min == max) {
            return;
        }
        if (drop == Drop.TIMED_OUT && latencyMicros < targetMicros) {
            // (7) it spent its call timeout waiting in the batcher, not at the dependency
            return;
        }
        boolean dropped = drop != Drop.NONE;
        long latency = Math.max(1, latencyMicros);
        double predicted = (double) Math.max(1, items) * targetMicros / latency;
        long now = nanoTime.getAsLong();
        if (!dropped) {
            recordTaken(now, items - Math.min(items, retryableFailures), latency);
            fits = fits == 0 ? predicted : (3 * fits + predicted) / 4;
        }
        if (drop == Drop.REFUSED) {
            // (8) give the dependency one good batch's time before the next batch
            holding = true;
            holdUntilNanos = now + (goodLatencyMicros > 0 ? goodLatencyMicros : targetMicros) * 1000;
        }
        if (dropped && sentAtEpoch >= dropEpoch) {
            // (4) fewer batches at once, each smaller; remember where it broke. A cut for latency
            // since the batch was sent does not hide the drop (2): it said nothing about capacity.
            long cut = (long) size * window / 2;
            long tookInLastSecond = takenInLastSecond(now);
            if (drop == Drop.REFUSED && tookInLastSecond > 0) {
                long rate = (long) (RATE_BACKOFF * tookInLastSecond * goodLatencyMicros / 1_000_000.0);
                cut = Math.max(cut / RATE_CUT_FLOOR, Math.min(cut, rate));
            }
            threshold = Math.max(min, cut);
            window = Math.max(1, window / 2);
            size = (int) Math.max(min, Math.min(Math.floor(size * FAILURE_BACKOFF), threshold / window));
            epoch++;
            dropEpoch = epoch;
            good = 0;
            return;
        }
        // (1) over the target by far, or while the smoothed latency too says the size is too big
        boolean overload = latency > OVERLOAD_FACTOR * targetMicros;
        boolean slow = latency > targetMicros && (overload || fits < size);
        if (dropped || retryableFailures > 0 || slow) {
            if (sentAtEpoch != epoch) {
                return; // (2) sent before the last decrease: already accounted for
            }
            double backoff = retryableFailures > 0 ? FAILURE_BACKOFF : LATENCY_BACKOFF;
            double next = Math.min(size * backoff, slow ? predicted : Double.MAX_VALUE);
            size = (int) Math.max(min, Math.floor(next));
            epoch++;
            good = 0;
            return;
        }
        if (!backlog || latency > targetMicros) {
            return;
        }
        // A batch that went with fewer items than the size had backlog only in the window's queue:
        // the items come in slower than a batch takes, so a bigger size would not fill; more batches may.
        int latencyBound = (int) Math.min(max, Math.floor(items < size ? size : predicted));
        if (threshold == 0 || (long) size * window < threshold) {
            // (3) backlog and room under the target: one step, capped by the latency and the threshold
            int grown = Math.min(size + step, latencyBound);
            if (threshold > 0) {
                grown = (int) Math.min(grown, Math.max(size, threshold / window));
            }
            if (grown > size) {
                size = grown;
                return;
            }
            if (window < maxWindow && (threshold == 0 || (long) size * (window + 1) <= threshold)) {
                window++;
                return;
            }
            if (threshold == 0) {
                return;
            }
            // just under the threshold and no step fits under it: probe as (5)
        }
        // (5) at or past the threshold: one item more, seldom
        if (++good >= PROBE_BATCHES) {
            good = 0;
            if (size < latencyBound) {
                size++;
            } else if (window < maxWindow) {
                window++;
            }
        }
    }
}
