package io.stagewise.operators.stage;

import io.stagewise.operators.event.Event;
import org.apache.flink.annotation.Internal;
import org.apache.flink.api.common.typeinfo.TypeInfo;

/**
 * Keyed state of one event whose workflow is under way ({@link StageStateDescriptors#WORKFLOW_RUN};
 * cleared when it completes or is dead-lettered): the event, its {@link Progress} as a typed value,
 * and what it waits for. Written with {@link WorkflowRunSerializer}: never Kryo, never JSON.
 *
 * <p>Replaces {@link WorkflowState} (state {@link StageStateDescriptors#WORKFLOW}, progress as JSON
 * text re-parsed at every step); entries of that state restored from an older savepoint are moved
 * here when the operator opens (docs/state-and-dedup.md).
 */
@Internal
@TypeInfo(WorkflowRunTypeInfo.Factory.class)
public final class WorkflowRun {
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
    public Progress progress;
    /** Attempts of the pending stage in this operator (the in-operator retry tier). */
    public int tierAttempts;
    /** Null while the event has not left the task thread (nothing stored yet). */
    public Phase phase;
    /** Timestamp of the registered timer. */
    public long timer;

    public WorkflowRun() {}

    WorkflowRun(Event event, Progress progress) {
        this.event = event;
        this.progress = progress;
    }

    /**
     * The same workflow as written by versions before typed progress.
     *
     * @throws IllegalStateException if its progress is not the JSON object those versions wrote
     */
    public static WorkflowRun from(WorkflowState legacy) {
        Progress progress;
        try {
            progress = Progress.parse(legacy.progress);
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException("restored workflow state of event " + (legacy.event == null ? null : legacy.event.id)
                    + " holds unreadable progress; the savepoint is damaged: " + e.getMessage(), e);
        }
        WorkflowRun run = new WorkflowRun(legacy.event, progress);
        run.tierAttempts = legacy.tierAttempts;
        run.phase = legacy.phase == null ? null : Phase.valueOf(legacy.phase.name());
        run.timer = legacy.timer;
        return run;
    }
}
