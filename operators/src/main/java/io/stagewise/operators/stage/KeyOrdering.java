package io.stagewise.operators.stage;

import io.stagewise.operators.event.Event;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.api.common.functions.RuntimeContext;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ValueState;

/**
 * Per-key ordering (optional): a business key runs one event at a time; later events of the key
 * wait in keyed state ({@link StageStateDescriptors#PARKED}) and start in arrival order when the
 * running one ({@link StageStateDescriptors#ACTIVE}) completes or is dead-lettered. Both states have
 * no TTL: a waiting event must never expire silently. Works on the operator's current key.
 */
final class KeyOrdering {
    /** Starts an event's workflow; may end it at once (and so release the key again). */
    @FunctionalInterface
    interface Starter {
        void begin(Event event) throws Exception;
    }

    private final boolean enabled;
    private final ValueState<String> active;
    private final ListState<Event> parked;
    private boolean releasing;

    KeyOrdering(boolean enabled, RuntimeContext store) {
        this.enabled = enabled;
        this.active = store.getState(StageStateDescriptors.active());
        this.parked = store.getListState(StageStateDescriptors.parked());
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
            parked.add(event);
            return false;
        }
        active.update(event.id);
        return true;
    }

    /**
     * The key's running event reached its end (completed or dead-lettered): the next waiting one
     * starts. Iterative, since a started event may end at once.
     */
    void released(String eventId, Starter starter) throws Exception {
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
                List<Event> queue = new ArrayList<>();
                for (Event waitingEvent : parked.get()) {
                    queue.add(waitingEvent);
                }
                if (queue.isEmpty()) {
                    return;
                }
                Event next = queue.remove(0);
                parked.update(queue);
                active.update(next.id);
                starter.begin(next);
            }
        } finally {
            releasing = false;
        }
    }
}
