package io.stagewise.gateway;

import io.stagewise.gateway.internal.NoFaults;
import io.stagewise.gateway.internal.RandomFaults;
import java.util.Objects;
import java.util.function.Predicate;

/**
 * Decides, per request, which {@link Fault} the gateway injects. Decisions are taken after the
 * request is validated (a 400 is never replaced by a fault) and before the idempotency key is
 * looked up.
 *
 * <p>Implementations must be thread-safe: the gateway calls them from many request threads at once.
 */
@FunctionalInterface
public interface FaultPolicy {

    /**
     * @param endpoint {@code charges} or {@code notifications}
     * @param idempotencyKey the request's {@code Idempotency-Key}
     * @param requestNumber how many requests this key has had on this endpoint, this one included
     *     (1 for the first)
     */
    Fault decide(String endpoint, String idempotencyKey, int requestNumber);

    /** No faults. */
    static FaultPolicy none() {
        return NoFaults.INSTANCE;
    }

    /**
     * Faults at the given rates, reproducibly: the decision is a pure function of the seed, the
     * endpoint, the key and the request number, so it does not depend on the order in which
     * concurrent requests arrive, and a retry (a higher request number) draws again.
     *
     * @param transientFailureRate share of requests answered 503 before executing, in [0, 1]
     * @param timeoutRate share of requests whose response is lost after executing, in [0, 1]
     * @throws IllegalArgumentException if a rate is outside [0, 1] or the two add up to more than 1
     */
    static FaultPolicy random(double transientFailureRate, double timeoutRate, long seed) {
        return new RandomFaults(transientFailureRate, timeoutRate, seed);
    }

    /**
     * {@code fault} for the first {@code count} requests of every key on {@code endpoint} that
     * {@code keys} accepts, no fault otherwise. For tests: "the first two charge attempts of
     * {@code pay-7} time out".
     */
    static FaultPolicy firstRequests(String endpoint, Predicate<String> keys, int count, Fault fault) {
        Objects.requireNonNull(endpoint, "endpoint");
        Objects.requireNonNull(keys, "keys");
        Objects.requireNonNull(fault, "fault");
        if (count < 0) {
            throw new IllegalArgumentException("count must be >= 0, got " + count);
        }
        return (e, key, requestNumber) ->
                e.equals(endpoint) && requestNumber <= count && keys.test(key) ? fault : Fault.NONE;
    }

    /** This policy's fault where it injects one, otherwise {@code other}'s. */
    default FaultPolicy orElse(FaultPolicy other) {
        Objects.requireNonNull(other, "other");
        return (endpoint, key, requestNumber) -> {
            Fault fault = decide(endpoint, key, requestNumber);
            return fault != Fault.NONE ? fault : other.decide(endpoint, key, requestNumber);
        };
    }
}

