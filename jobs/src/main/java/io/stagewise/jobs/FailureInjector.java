package io.stagewise.jobs;

import org.apache.flink.annotation.Internal;
import io.stagewise.operators.event.Event;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.api.common.state.CheckpointListener;

/**
 * Fails each subtask once, mid-stream, so the demo and the tests can show recovery from the last
 * checkpoint: on the task's first attempt, after {@code afterEvents} events and at least one
 * completed checkpoint, it throws. Restored attempts (attempt number above 0) never throw, so the
 * job recovers instead of failing for ever.
 */
@Internal
public final class FailureInjector extends RichMapFunction<Event, Event> implements CheckpointListener {
    private static final long serialVersionUID = 1L;

    public static final String UID = "stagewise-failure-injector";

    private final long afterEvents;
    private transient long seen;
    private transient boolean checkpointCompleted;
    private transient boolean armed;

    public FailureInjector(long afterEvents) {
        if (afterEvents <= 0) {
            throw new IllegalArgumentException("afterEvents must be positive, got " + afterEvents);
        }
        this.afterEvents = afterEvents;
    }

    @Override
    public void open(OpenContext openContext) {
        armed = getRuntimeContext().getTaskInfo().getAttemptNumber() == 0;
    }

    @Override
    public Event map(Event event) {
        seen++;
        if (armed && checkpointCompleted && seen >= afterEvents) {
            throw new InjectedFailureException("injected failure in subtask "
                    + getRuntimeContext().getTaskInfo().getIndexOfThisSubtask() + " after " + seen
                    + " events (--inject-failure); Flink restores from the last checkpoint");
        }
        return event;
    }

    @Override
    public void notifyCheckpointComplete(long checkpointId) {
        checkpointCompleted = true;
    }

    /** The exception the injector throws; recognisable in logs and tests. */
    public static final class InjectedFailureException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        public InjectedFailureException(String message) {
            super(message);
        }
    }
}
