package io.stagewise.operators.stage;

import org.apache.flink.annotation.PublicEvolving;
import java.io.Serializable;
import io.stagewise.operators.retry.RetryLadder;
import java.time.Duration;

/**
 * How the stage engine runs calls: in-operator retry, per-call timeout, the bound on calls in
 * flight per subtask, and the TTL of event status and stage records (processing time).
 */
@PublicEvolving
public final class StageSettings implements Serializable {
    private static final long serialVersionUID = 1L;

    public static final Duration DEFAULT_CALL_TIMEOUT = Duration.ofSeconds(10);
    public static final int DEFAULT_MAX_IN_FLIGHT = 100;
    public static final Duration DEFAULT_STATE_TTL = Duration.ofDays(7);

    private final RetrySettings retry;
    private final Duration callTimeout;
    private final int maxInFlight;
    private final Duration stateTtl;
    private final RetryLadder ladder;
    private final boolean perKeyOrdering;

    public StageSettings(RetrySettings retry, Duration callTimeout, int maxInFlight, Duration stateTtl) {
        this(retry, callTimeout, maxInFlight, stateTtl, RetryLadder.NONE, false);
    }

    /**
     * @param perKeyOrdering one event per business key at a time, later ones waiting in keyed
     *     state until it completes or is dead-lettered (also while it is in the retry ladder)
     */
    public StageSettings(RetrySettings retry, Duration callTimeout, int maxInFlight, Duration stateTtl, RetryLadder ladder,
                         boolean perKeyOrdering) {
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
        if (stateTtl == null || stateTtl.isNegative() || stateTtl.isZero()) {
            throw new IllegalArgumentException("stateTtl must be positive, got " + stateTtl);
        }
        this.retry = retry;
        this.callTimeout = callTimeout;
        this.maxInFlight = maxInFlight;
        this.stateTtl = stateTtl;
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

    public int maxInFlight() {
        return maxInFlight;
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
