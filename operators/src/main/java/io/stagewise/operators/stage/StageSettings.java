package io.stagewise.operators.stage;

import org.apache.flink.annotation.PublicEvolving;
import java.io.Serializable;
import io.stagewise.operators.retry.RetryLadder;
import java.time.Duration;

/**
 * How the stage engine runs calls: in-operator retry, per-call timeout, the in-flight limit per
 * remote stage per subtask (fixed at {@code maxInFlight}, or adaptive between {@code minInFlight}
 * and {@code maxInFlight}: {@link Concurrency}), the TTL of event status and stage records (processing time), the retry
 * ladder and its watchdog, and per-key ordering.
 *
 * <p>Validated on construction, so every assembly of the pipeline gets the same checks: a state
 * TTL shorter than an event can be in flight ({@link #minimumStateTtl()}) is refused, since its
 * dedup and stage records could expire under it.
 */
@PublicEvolving
public final class StageSettings implements Serializable {
    private static final long serialVersionUID = 1L;

    public static final Duration DEFAULT_CALL_TIMEOUT = Duration.ofSeconds(10);
    public static final int DEFAULT_MAX_IN_FLIGHT = 100;
    /** The floor of an adaptive in-flight limit: 1, so any {@code --max-in-flight} stays valid. */
    public static final int DEFAULT_MIN_IN_FLIGHT = 1;
    /**
     * Fixed, for now: under a CPU-starved machine the adaptive limit reads the job's own scheduling
     * delay as queueing and lowers concurrency (README.md, "Adaptive concurrency").
     */
    public static final Concurrency DEFAULT_CONCURRENCY = Concurrency.FIXED;

    /** How the in-flight limit of each remote stage is set (see {@code InFlightLimit}). */
    @PublicEvolving
    public enum Concurrency {
        /** Always {@code maxInFlight} calls per remote stage per subtask. */
        FIXED,
        /**
         * Follows the dependency between {@code minInFlight} and {@code maxInFlight}: lowered when
         * round-trip times rise or calls time out or answer 429/503, raised while they stay flat.
         */
        ADAPTIVE
    }
    public static final Duration DEFAULT_STATE_TTL = Duration.ofDays(7);
    /** How long after its due time a retry record may take to come back before the watchdog re-sends it. */
    public static final Duration DEFAULT_LADDER_GRACE = Duration.ofMinutes(5);
    /** How often the watchdog re-sends a retry record that did not come back before it dead-letters the event. */
    public static final int DEFAULT_LADDER_RESENDS = 3;

    private final RetrySettings retry;
    private final Duration callTimeout;
    private final int maxInFlight;
    private final Duration stateTtl;
    private final RetryLadder ladder;
    private final boolean perKeyOrdering;
    private final Duration ladderGrace;
    private final int ladderResends;
    private final Concurrency concurrency;
    private final int minInFlight;

    public StageSettings(RetrySettings retry, Duration callTimeout, int maxInFlight, Duration stateTtl) {
        this(retry, callTimeout, maxInFlight, stateTtl, RetryLadder.NONE, false);
    }

    /**
     * @param perKeyOrdering one event per business key at a time, later ones waiting in keyed
     *     state until it completes or is dead-lettered (also while it is in the retry ladder)
     */
    public StageSettings(RetrySettings retry, Duration callTimeout, int maxInFlight, Duration stateTtl, RetryLadder ladder,
                         boolean perKeyOrdering) {
        this(retry, callTimeout, maxInFlight, stateTtl, ladder, perKeyOrdering, DEFAULT_LADDER_GRACE, DEFAULT_LADDER_RESENDS,
                DEFAULT_CONCURRENCY, Math.min(DEFAULT_MIN_IN_FLIGHT, maxInFlight));
    }

    private StageSettings(RetrySettings retry, Duration callTimeout, int maxInFlight, Duration stateTtl, RetryLadder ladder,
                          boolean perKeyOrdering, Duration ladderGrace, int ladderResends, Concurrency concurrency,
                          int minInFlight) {
        this.perKeyOrdering = perKeyOrdering;
        if (ladder == null) {
            throw new IllegalArgumentException("retry ladder is required (RetryLadder.NONE for none)");
        }
        this.ladder = ladder;
        if (retry == null) {
            throw new IllegalArgumentException("retry settings are required");
        }
        if (callTimeout == null || callTimeout.isNegative() || callTimeout.isZero()) {
            throw new IllegalArgumentException("callTimeout must be positive, got " + callTimeout);
        }
        if (maxInFlight < 1) {
            throw new IllegalArgumentException("maxInFlight must be >= 1, got " + maxInFlight);
        }
        if (concurrency == null) {
            throw new IllegalArgumentException("concurrency (--concurrency, stagewise.stage.concurrency) is required");
        }
        if (minInFlight < 1 || minInFlight > maxInFlight) {
            throw new IllegalArgumentException("the minimum in-flight limit (--min-in-flight, stagewise.stage.min-in-flight) "
                    + "must be in [1, --max-in-flight = " + maxInFlight + "], got " + minInFlight);
        }
        if (stateTtl == null || stateTtl.isNegative() || stateTtl.isZero()) {
            throw new IllegalArgumentException("stateTtl must be positive, got " + stateTtl);
        }
        if (ladderGrace == null || ladderGrace.isNegative() || ladderGrace.isZero()) {
            throw new IllegalArgumentException("retry ladder watchdog grace must be positive, got " + ladderGrace);
        }
        if (ladderResends < 0) {
            throw new IllegalArgumentException("retry ladder watchdog re-sends must be >= 0, got " + ladderResends);
        }
        this.retry = retry;
        this.callTimeout = callTimeout;
        this.maxInFlight = maxInFlight;
        this.stateTtl = stateTtl;
        this.ladderGrace = ladderGrace;
        this.ladderResends = ladderResends;
        this.concurrency = concurrency;
        this.minInFlight = minInFlight;
        Duration minimum = minimumStateTtl();
        if (stateTtl.compareTo(minimum) < 0) {
            throw new IllegalArgumentException("the state TTL (--dedup-ttl, stagewise.dedup.ttl) is " + stateTtl.toMillis()
                    + " ms, shorter than an event can be in flight: the retry ladder's total delay ("
                    + ladder.totalDelay().toMillis() + " ms, " + ladder + ") plus a margin for the in-operator attempts and "
                    + "the ladder watchdog (" + minimum.minus(ladder.totalDelay()).toMillis() + " ms); its dedup and stage "
                    + "records could expire under it. Raise --dedup-ttl to at least " + minimum.toMillis() + " ms, or shorten "
                    + "the retry ladder (--retry-topics, --retry-topic-delay), --call-timeout or --retry-attempts");
        }
    }

    /**
     * The same settings with another retry ladder watchdog: a retry record not read back within
     * {@code grace} of its due time is re-sent to the same step, at most {@code maxResends} times;
     * then the event is dead-lettered as {@code exhausted}.
     */
    public StageSettings withLadderWatchdog(Duration grace, int maxResends) {
        return new StageSettings(retry, callTimeout, maxInFlight, stateTtl, ladder, perKeyOrdering, grace, maxResends,
                concurrency, minInFlight);
    }

    /**
     * The same settings with another in-flight limit per remote stage: {@link Concurrency#FIXED}
     * at {@code maxInFlight}, or {@link Concurrency#ADAPTIVE} between {@code minInFlight} and
     * {@code maxInFlight}.
     *
     * @throws IllegalArgumentException if {@code minInFlight} is outside [1, maxInFlight]
     */
    public StageSettings withConcurrency(Concurrency concurrency, int minInFlight) {
        return new StageSettings(retry, callTimeout, maxInFlight, stateTtl, ladder, perKeyOrdering, ladderGrace,
                ladderResends, concurrency, minInFlight);
    }

    /**
     * The shortest state TTL that cannot expire under an event in flight: the retry ladder's total
     * delay, plus per tier (the input and each ladder step) the in-operator attempts, each a call
     * timeout and the longest backoff (jitter included), plus the watchdog grace per ladder step.
     * The operator rewrites an event's status at every ladder step and re-send, so this bound holds
     * between any two writes.
     */
    public Duration minimumStateTtl() {
        long backoff = Math.round(retry.maxBackoff().toMillis() * (1 + retry.jitter()));
        long perTier = retry.maxAttempts() * (callTimeout.toMillis() + backoff);
        return ladder.totalDelay()
                .plusMillis((ladder.steps() + 1L) * perTier)
                .plus(ladderGrace.multipliedBy(ladder.steps()));
    }

    public Duration ladderGrace() {
        return ladderGrace;
    }

    public int ladderResends() {
        return ladderResends;
    }

    public static StageSettings defaults() {
        return new StageSettings(RetrySettings.DEFAULTS, DEFAULT_CALL_TIMEOUT, DEFAULT_MAX_IN_FLIGHT, DEFAULT_STATE_TTL);
    }

    public RetrySettings retry() {
        return retry;
    }

    public Duration callTimeout() {
        return callTimeout;
    }

    /** The hard ceiling of calls in flight per remote stage per subtask. */
    public int maxInFlight() {
        return maxInFlight;
    }

    /** The floor of an adaptive in-flight limit. */
    public int minInFlight() {
        return minInFlight;
    }

    public Concurrency concurrency() {
        return concurrency;
    }

    public boolean perKeyOrdering() {
        return perKeyOrdering;
    }

    /** The retry topics exhausted events go through; {@link RetryLadder#NONE}: straight to the DLQ. */
    public RetryLadder ladder() {
        return ladder;
    }

    public Duration stateTtl() {
        return stateTtl;
    }
}
