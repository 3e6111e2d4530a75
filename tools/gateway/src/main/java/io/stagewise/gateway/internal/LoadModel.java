package io.stagewise.gateway.internal;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;

/**
 * How slow and how big the gateway is, changeable while it runs (through {@link ControlHandler},
 * for tests and benchmarks): the latency added to every request, the cost of each item of a batch
 * request, and the capacity in items per second beyond which a batch is refused with 503.
 *
 * <p>A batch of n items takes {@code requestLatency + n x itemLatency}. Capacity is a token bucket
 * of {@code capacity} items refilled at {@code capacity} items per second: a batch larger than one
 * second's capacity never fits, so an oversized fixed batch really fails. Thread-safe.
 */
public final class LoadModel {
    private volatile long requestLatencyMicros;
    private volatile long itemLatencyMicros;
    /** Items per second; 0 = unlimited. */
    private long capacity;
    private double tokens;
    private long refilledAtNanos;
    /** Batch items admitted so far, and the step: from {@code stepAfterItems} on, {@code stepItemLatencyMicros}. */
    private long admitted;
    private long stepAfterItems = -1;
    private long stepItemLatencyMicros;
    /** Items refused over capacity within the bucket's second after the first refusal. */
    private long firstOverloadItems;
    private long firstRefusalNanos = -1;
    private final BatchTimes served = new BatchTimes();

    public LoadModel(Duration requestLatency, Duration itemLatency, long capacityPerSecond) {
        set(requestLatency, itemLatency, capacityPerSecond);
    }

    /** Replaces all three settings (capacity 0 = unlimited); the bucket starts full. */
    public synchronized void set(Duration requestLatency, Duration itemLatency, long capacityPerSecond) {
        if (requestLatency.isNegative() || itemLatency.isNegative() || capacityPerSecond < 0) {
            throw new IllegalArgumentException("latencies and capacity must be >= 0, got " + requestLatency + ", "
                    + itemLatency + ", " + capacityPerSecond);
        }
        this.requestLatencyMicros = requestLatency.toNanos() / 1000;
        this.itemLatencyMicros = itemLatency.toNanos() / 1000;
        this.capacity = capacityPerSecond;
        this.tokens = capacityPerSecond;
        this.refilledAtNanos = System.nanoTime();
    }

    public Duration requestLatency() {
        return Duration.ofNanos(requestLatencyMicros * 1000);
    }

    public Duration itemLatency() {
        return Duration.ofNanos(itemLatencyMicros * 1000);
    }

    public synchronized long capacityPerSecond() {
        return capacity;
    }

    /** What a batch of {@code items} costs in time. */
    public Duration batchLatency(int items) {
        return Duration.ofNanos((requestLatencyMicros + items * itemLatencyMicros) * 1000);
    }

    /**
     * From the batch that finds {@code afterItems} batch items already admitted on, each item costs
     * {@code itemLatency}: a step in the per-item cost at a fixed point of the work, whatever the
     * batch sizes (a benchmark's step from fast to slow).
     */
    public synchronized void stepItemLatencyAfter(long afterItems, Duration itemLatency) {
        if (afterItems < 0 || itemLatency.isNegative()) {
            throw new IllegalArgumentException("the step needs items >= 0 and a latency >= 0, got " + afterItems + ", "
                    + itemLatency);
        }
        this.stepAfterItems = afterItems;
        this.stepItemLatencyMicros = itemLatency.toNanos() / 1000;
    }

    /**
     * Takes {@code items} from the capacity; false (nothing taken) when they do not fit now. Call
     * it before {@link #batchLatency}: an admitted batch may be the one that steps the item cost.
     */
    public synchronized boolean admit(int items) {
        if (capacity == 0) {
            count(items);
            return true;
        }
        long now = System.nanoTime();
        tokens = Math.min(capacity, tokens + (now - refilledAtNanos) / 1e9 * capacity);
        refilledAtNanos = now;
        if (items > tokens) {
            if (firstRefusalNanos < 0) {
                firstRefusalNanos = now;
            }
            if (now - firstRefusalNanos < 1_000_000_000L) {
                firstOverloadItems += items;
            }
            return false;
        }
        tokens -= items;
        count(items);
        return true;
    }

    /** How long the batches executed (not refused) took, receipt to response. */
    public BatchTimes served() {
        return served;
    }

    /** Items refused over capacity within a second of the first refusal (the first overload). */
    public synchronized long firstOverloadItems() {
        return firstOverloadItems;
    }

    private void count(int items) {
        if (stepAfterItems >= 0 && admitted >= stepAfterItems) {
            itemLatencyMicros = stepItemLatencyMicros;
            stepAfterItems = -1;
        }
        admitted += items;
    }

    public synchronized ObjectNode toJson() {
        return Json.object()
                .put("latency_ms", requestLatencyMicros / 1000.0)
                .put("item_latency_ms", itemLatencyMicros / 1000.0)
                .put("capacity_per_second", capacity);
    }

    @Override
    public String toString() {
        return toJson().toString();
    }
}
