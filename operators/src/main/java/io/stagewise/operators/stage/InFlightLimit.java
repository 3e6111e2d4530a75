package io.stagewise.operators.stage;

import com.netflix.concurrency.limits.Limit;
import com.netflix.concurrency.limits.limit.AIMDLimit;
import com.netflix.concurrency.limits.limit.VegasLimit;
import java.net.http.HttpTimeoutException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.IntSupplier;

/**
 * The in-flight limit of one remote stage on one subtask: how many calls to that stage may run at
 * once. Fixed ({@code --concurrency fixed}, the default): always {@code --max-in-flight}.
 * Adaptive: follows the dependency between {@code --min-in-flight} and {@code --max-in-flight}
 * (README.md, "Adaptive concurrency"; docs/operations.md).
 *
 * <p>The adaptive limit is the lower of two algorithms of Netflix {@code concurrency-limits-core},
 * each fed on the task thread through {@link Limit#onSample} (no limiter, no extra thread):
 * <ol>
 *   <li>{@link VegasLimit} on the round-trip times of successful calls only. It keeps the lowest
 *       RTT seen as the no-load RTT (re-probed every 50-100 x limit samples, so a dependency that is
 *       slower for good, not overloaded, gets its limit back) and estimates the queue the
 *       dependency builds as {@code limit * (1 - rttNoLoad / rtt)}: up to 10% of the limit it
 *       grows by half again, under a third by log10(limit), over half (the RTT doubled; at least
 *       3) it shrinks by 10%. Those thresholds are wider than the library's defaults so the
 *       jitter of a busy 2-core machine (a few ms on a 20 ms call) does not read as queueing. It
 *       grows only while the stage uses at least half its limit.
 *   <li>{@link AIMDLimit} on drops: a call timeout and HTTP 429/503 ({@link RetryableStageException#httpStatus()})
 *       cut the limit by 10%; each success adds one while the stage uses at least half its limit.
 * </ol>
 * Why these: {@code Gradient2Limit} (0.5.4) ignores the drop flag altogether, so timeouts and 503s
 * would not lower it; {@code AIMDLimit} alone sees no latency until calls time out, which is the
 * overload this limit exists to avoid; {@code VegasLimit} alone treats a fast 503 as a low RTT.
 * Together each signal drives the algorithm built for it. No {@code WindowedLimit}: it drops any
 * window of fewer than 10 samples, so a stage with a small limit and slow calls would never adapt.
 * A permanent rejection (402, other 4xx), other retryable answers (409, 500), connection errors
 * and errors in stage code are neither a sample nor a drop: they say nothing about load.
 *
 * <p>In memory only, per task attempt: not in keyed or operator state, so checkpoints and
 * savepoints are unchanged; after a restore it starts again at {@code --max-in-flight}, today's
 * fixed bound, and adapts within a few calls. Not thread-safe: used on the task thread only.
 *
 * <p>Either kind is further capped by what the stage itself can use now
 * ({@link RemoteStage#maxCallsNow()}): a batching stage takes only what its batches carry, so the
 * rest of a backlog waits in the source, not in the batcher with its call deadlines running.
 */
final class InFlightLimit {
    /** Multiplicative decrease on a drop (AIMD) and on queueing (Vegas). */
    static final double BACKOFF_RATIO = 0.9;
    /**
     * Vegas re-measures the no-load RTT after (0.5..1) x this x limit samples. The library's 30
     * re-probes a stage cut to a limit of 3 after 45-90 calls, and the limit of a still-slow
     * dependency would bounce straight back to the ceiling; 100 keeps it down for 150-300 calls.
     */
    static final int PROBE_MULTIPLIER = 100;

    private final int min;
    private final int max;
    private final Limit latency;
    private final Limit drops;
    private IntSupplier cap = () -> Integer.MAX_VALUE;

    private InFlightLimit(int min, int max, boolean adaptive) {
        this.min = min;
        this.max = max;
        if (adaptive) {
            latency = VegasLimit.newBuilder()
                    .initialLimit(max)
                    .maxConcurrency(max)
                    .thresholdFunction(limit -> Math.max(1, limit / 10))
                    .alphaFunction(limit -> Math.max(2, limit / 3))
                    .betaFunction(limit -> Math.max(3, limit / 2))
                    .decreaseFunction(limit -> limit * BACKOFF_RATIO)
                    .probeMultiplier(PROBE_MULTIPLIER)
                    .build();
            drops = new AIMDLimit.Builder()
                    .initialLimit(max)
                    .minLimit(min)
                    .maxLimit(max)
                    .backoffRatio(BACKOFF_RATIO)
                    // Timeouts reach it as drops; no RTT counts as one on its own.
                    .timeout(Long.MAX_VALUE, TimeUnit.NANOSECONDS)
                    .build();
        } else {
            latency = null;
            drops = null;
        }
    }

    static InFlightLimit of(StageSettings settings) {
        return new InFlightLimit(settings.minInFlight(), settings.maxInFlight(),
                settings.concurrency() == StageSettings.Concurrency.ADAPTIVE);
    }

    static InFlightLimit fixed(int max) {
        return new InFlightLimit(max, max, false);
    }

    static InFlightLimit adaptive(int min, int max) {
        return new InFlightLimit(min, max, true);
    }

    /**
     * Also bounded by {@code cap} (the stage's {@link RemoteStage#maxCallsNow()}), read at every
     * {@link #current()}.
     */
    InFlightLimit cappedBy(IntSupplier cap) {
        this.cap = cap;
        return this;
    }

    /** Calls of this stage that may run now: within [min, max], and at most the cap (at least 1). */
    int current() {
        int limit = latency == null ? max
                : Math.max(min, Math.min(max, Math.min(latency.getLimit(), drops.getLimit())));
        return Math.max(1, Math.min(limit, cap.getAsInt()));
    }

    /**
     * A call of this stage ended.
     *
     * @param rttNanos from the call's start to its result
     * @param inFlight calls of this stage in flight when it ended, itself included
     * @param failure null for a success
     */
    void onResult(long rttNanos, int inFlight, Throwable failure) {
        if (latency == null) {
            return;
        }
        long rtt = Math.max(1, rttNanos); // Vegas refuses an RTT of 0
        if (failure == null) {
            latency.onSample(0, rtt, inFlight, false);
            drops.onSample(0, rtt, inFlight, false);
        } else if (isDrop(failure)) {
            drops.onSample(0, rtt, inFlight, true);
        }
    }

    /**
     * Whether a failure says the dependency is overloaded: a timeout (the call's own deadline or
     * the HTTP client's), or HTTP 429 or 503.
     */
    static boolean isDrop(Throwable failure) {
        Throwable cause = FailureClass.unwrap(failure);
        if (cause instanceof TimeoutException || cause instanceof HttpTimeoutException) {
            return true;
        }
        if (cause instanceof RetryableStageException retryable) {
            int status = retryable.httpStatus();
            return status == 429 || status == 503;
        }
        return false;
    }
}
