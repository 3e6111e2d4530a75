package io.stagewise.operators.stage;

import org.apache.flink.annotation.Internal;
import io.stagewise.operators.event.Event;

/**
 * Keyed state of one event whose workflow is under way (cleared when it completes or is
 * dead-lettered). A Flink POJO: never Kryo.
 */
@Internal
public class WorkflowState {
    /** What the event is waiting for; each phase has exactly one processing-time timer registered. */
    public enum Phase {
        /** A call is in flight; the timer fires after its deadline (and re-issues it after a restore). */
        IN_FLIGHT,
        /** Waiting out a backoff; the timer fires when the next attempt is due. */
        BACKOFF,
        /** Waiting for a free call slot; the timer re-checks (and re-queues it after a restore). */
        WAITING
    }

    public Event event;
    /** {@link Progress} as JSON. */
    public String progress;
    /** Attempts of the pending stage in this operator (the in-operator retry tier). */
    public int tierAttempts;
    public Phase phase;
    /** Timestamp of the registered timer. */
    public long timer;

    public WorkflowState() {}

    WorkflowState(Event event, String progress) {
        this.event = event;
        this.progress = progress;
    }
}
