package io.stagewise.operators.stage;

import org.apache.flink.annotation.Internal;
import io.stagewise.operators.event.Event;

/**
 * The layout of state {@link StageStateDescriptors#WORKFLOW} written by versions before typed
 * progress (0.1.0-SNAPSHOT and earlier): one event whose workflow was under way, its progress as
 * JSON text. Kept, unchanged (class name and fields are part of the savepoint's POJO layout), only so
 * such savepoints restore: the stage engine moves every entry into {@link WorkflowRun} when it opens
 * ({@link WorkflowRun#from}). Never written any more. A Flink POJO: never Kryo.
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
