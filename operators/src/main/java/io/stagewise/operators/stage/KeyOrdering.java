package io.stagewise.operators.stage;

import io.stagewise.operators.event.Event;
import java.util.HashSet;
import java.util.Iterator;
import java.util.Set;
import java.util.stream.Stream;
import org.apache.flink.api.common.functions.RuntimeContext;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.runtime.state.KeyedStateBackend;
import org.apache.flink.runtime.state.VoidNamespace;

/**
 * Per-key ordering (optional): a business key runs one event at a time; later events of the key
 * wait in keyed state and start in arrival order when the running one
 * ({@link StageStateDescriptors#ACTIVE}) completes or is dead-lettered. The waiting events are a
 * queue ({@link StageStateDescriptors#PARKED_EVENTS} bounded by
 * {@link StageStateDescriptors#PARKED_QUEUE}): appending and popping write one entry each, so a hot
 * key with n waiting events costs O(n), not O(n^2). None of this state has a TTL: a waiting event
 * must never expire silently; entries are removed as they start, and the queue bounds when empty.
 *
 * <p>Savepoint compatibility: earlier versions kept the waiting events in one list
 * ({@link StageStateDescriptors#PARKED}, rewritten whole per release). That state is still
 * registered; the first time a key parks or releases after a restore its list moves, in order, to
 * the front of the queue, and is cleared. Works on the operator's current key.
 */
final class KeyOrdering {
    /** Starts an event's workflow; may end it at once (and so release the key again). */
    @FunctionalInterface
    interface Starter {
        void begin(Event event) throws Exception;
    }

    /**
     * Whether a waiting event may still start: false if a copy of it already reached an end (its
     * status expired while it waited, so a duplicate was admitted and parked too).
     */
    @FunctionalInterface
    interface StillPending {
        boolean test(Event event) throws Exception;
    }

    private final boolean enabled;
    private final ValueState<String> active;
    private final ListState<Event> legacyParked;
    private final MapState<Long, Event> parkedEvents;
    private final ValueState<ParkedQueue> queue;
    private boolean releasing;

    KeyOrdering(boolean enabled, RuntimeContext state) {
        this.enabled = enabled;
        this.active = state.getState(StageStateDescriptors.active());
        this.legacyParked = state.getListState(StageStateDescriptors.parked());
        this.parkedEvents = state.getMapState(StageStateDescriptors.parkedEvents());
        this.queue = state.getState(StageStateDescriptors.parkedQueue());
    }

    /**
     * True if {@code event} may run now (it is then the key's running event); false if another
     * event of the key runs and {@code event} was parked behind it.
     */
    boolean runOrPark(Event event) throws Exception {
        if (!enabled) {
            return true;
        }
        String running = active.value();
        if (running != null && !running.equals(event.id)) {
            ParkedQueue bounds = bounds();
            parkedEvents.put(bounds.tail++, event);
            queue.update(bounds);
            return false;
        }
        active.update(event.id);
        return true;
    }

    /**
     * The key's running event reached its end (completed or dead-lettered): the next waiting one
     * starts. Iterative, since a started event may end at once.
     */
    void released(String eventId, StillPending stillPending, Starter starter) throws Exception {
        if (!enabled || !eventId.equals(active.value())) {
            return;
        }
        active.clear();
        if (releasing) {
            return; // the loop below, further up the stack, starts the next one
        }
        releasing = true;
        try {
            while (active.value() == null) {
                Event next = poll();
                if (next == null) {
                    return;
                }
                if (stillPending.test(next)) {
                    active.update(next.id);
                    starter.begin(next);
                }
            }
        } finally {
            releasing = false;
        }
    }

    /**
     * Restored without per-key ordering: the key no longer has a running event, and every waiting
     * one starts now, in arrival order.
     */
    void releaseAll(StillPending stillPending, Starter starter) throws Exception {
        active.clear();
        Event next;
        while ((next = poll()) != null) {
            if (stillPending.test(next)) {
                starter.begin(next);
            }
        }
    }

    /** The keys that hold ordering state (a running event, or waiting ones): those {@link #releaseAll} has work for. */
    static Set<String> keysHoldingState(KeyedStateBackend<String> backend) {
        Set<String> keys = new HashSet<>();
        for (String name : new String[] {StageStateDescriptors.ACTIVE, StageStateDescriptors.PARKED_QUEUE,
                StageStateDescriptors.PARKED}) {
            try (Stream<String> stored = backend.getKeys(name, VoidNamespace.INSTANCE)) {
                stored.forEach(keys::add); // collected first: starting events writes state
            }
        }
        return keys;
    }

    private Event poll() throws Exception {
        ParkedQueue bounds = bounds();
        if (bounds.isEmpty()) {
            queue.clear();
            return null;
        }
        Event next = parkedEvents.get(bounds.head);
        parkedEvents.remove(bounds.head);
        bounds.head++;
        if (bounds.isEmpty()) {
            queue.clear(); // nothing left behind for an idle key
        } else {
            queue.update(bounds);
        }
        return next;
    }

    /** The key's queue bounds, after moving a list left by an earlier version to its front. */
    private ParkedQueue bounds() throws Exception {
        ParkedQueue bounds = queue.value();
        if (bounds != null && !bounds.isEmpty()) {
            return bounds; // a non-empty queue means the key's old list was moved already
        }
        bounds = bounds == null ? new ParkedQueue() : bounds;
        Iterable<Event> legacy = legacyParked.get();
        Iterator<Event> it = legacy == null ? null : legacy.iterator();
        if (it != null && it.hasNext()) {
            while (it.hasNext()) {
                parkedEvents.put(bounds.tail++, it.next());
            }
            legacyParked.clear();
            queue.update(bounds);
        }
        return bounds;
    }
}
