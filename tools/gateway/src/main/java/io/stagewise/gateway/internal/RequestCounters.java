package io.stagewise.gateway.internal;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.AtomicInteger;

/** HTTP requests received per endpoint and idempotency key since the gateway started (in memory). */
public final class RequestCounters {
    private final Map<Endpoint, ConcurrentMap<String, AtomicInteger>> counts = new ConcurrentHashMap<>();

    /** Counts one request and returns how many this key has had on this endpoint, this one included. */
    public int record(Endpoint endpoint, String key) {
        return counts.computeIfAbsent(endpoint, e -> new ConcurrentHashMap<>())
                .computeIfAbsent(key, k -> new AtomicInteger())
                .incrementAndGet();
    }

    /** A sorted copy. */
    public Map<String, Integer> snapshot(Endpoint endpoint) {
        Map<String, Integer> copy = new TreeMap<>();
        counts.getOrDefault(endpoint, new ConcurrentHashMap<>()).forEach((key, n) -> copy.put(key, n.get()));
        return copy;
    }
}
