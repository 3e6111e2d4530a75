package io.stagewise.gateway.internal;

import io.stagewise.gateway.Fault;
import io.stagewise.gateway.FaultPolicy;
import java.nio.charset.StandardCharsets;

/**
 * Rate-based faults whose every decision is a hash of (seed, endpoint, key, request number): the
 * same run against the same seed injects the same faults, whatever the interleaving of requests.
 */
public final class RandomFaults implements FaultPolicy {
    private final double transientFailureRate;
    private final double timeoutRate;
    private final long seed;

    public RandomFaults(double transientFailureRate, double timeoutRate, long seed) {
        requireRate("transientFailureRate", transientFailureRate);
        requireRate("timeoutRate", timeoutRate);
        if (transientFailureRate + timeoutRate > 1.0) {
            throw new IllegalArgumentException("transientFailureRate + timeoutRate must be <= 1, got "
                    + transientFailureRate + " + " + timeoutRate);
        }
        this.transientFailureRate = transientFailureRate;
        this.timeoutRate = timeoutRate;
        this.seed = seed;
    }

    private static void requireRate(String name, double rate) {
        if (!(rate >= 0.0 && rate <= 1.0)) { // also refuses NaN
            throw new IllegalArgumentException(name + " must be in [0, 1], got " + rate);
        }
    }

    @Override
    public Fault decide(String endpoint, String idempotencyKey, int requestNumber) {
        long h = mix(seed);
        h = mix(h ^ hash(endpoint));
        h = mix(h ^ hash(idempotencyKey));
        h = mix(h ^ requestNumber);
        double u = (h >>> 11) * 0x1.0p-53; // uniform in [0, 1)
        if (u < transientFailureRate) {
            return Fault.TRANSIENT;
        }
        if (u < transientFailureRate + timeoutRate) {
            return Fault.TIMEOUT;
        }
        return Fault.NONE;
    }

    /** 64-bit FNV-1a over UTF-8: stable across JVMs, unlike identity hashes. */
    private static long hash(String s) {
        long h = 0xcbf29ce484222325L;
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            h ^= b & 0xff;
            h *= 0x100000001b3L;
        }
        return h;
    }

    /** SplittableRandom's finalizer (Stafford variant 13). */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }

    @Override
    public String toString() {
        return String.format("transient 503 rate %s, timeout-after-execute rate %s, seed %d",
                transientFailureRate, timeoutRate, seed);
    }
}
