package io.stagewise.savepoints.internal;

import io.stagewise.operators.dedup.EventStatus;
import io.stagewise.operators.event.Event;
import io.stagewise.operators.stage.LadderWait;
import io.stagewise.operators.stage.StageStateDescriptors;
import io.stagewise.operators.stage.WorkflowRun;
import io.stagewise.operators.stage.WorkflowState;
import java.time.Duration;
import java.util.Map;
import org.apache.flink.annotation.Internal;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.state.api.functions.KeyedStateReaderFunction;
import org.apache.flink.util.Collector;

/**
 * Reads every keyed state of the stage operator for one business key, through the descriptors
 * the operator itself uses ({@link StageStateDescriptors}), and emits one {@link StageStateEntry}
 * per entry. Read-only: the savepoint is never changed.
 *
 * <p>The TTL'd states are read with a TTL far beyond any configured one: only whether a state has
 * a TTL is part of the savepoint, not its length, and a short TTL would hide entries of an old
 * savepoint. Entries past the job's own TTL but not yet cleaned up are therefore shown too.
 */
@Internal
public final class StageStateReader extends KeyedStateReaderFunction<String, StageStateEntry> {
    private static final long serialVersionUID = 1L;
    /** Longer than any state TTL a job sets; see the class comment. */
    static final Duration READ_TTL = Duration.ofDays(365L * 1000);

    private transient MapState<String, EventStatus> status;
    private transient MapState<String, WorkflowRun> workflows;
    /** Written by versions before typed progress; moved into {@link #workflows} when the job opens. */
    private transient MapState<String, WorkflowState> legacyWorkflows;
    private transient MapState<String, Integer> ladderSteps;
    private transient MapState<String, LadderWait> ladderWaits;
    private transient ValueState<String> active;
    private transient ListState<Event> legacyParked;
    private transient MapState<Long, Event> parkedEvents;

    @Override
    public void open(OpenContext context) {
        status = getRuntimeContext().getMapState(StageStateDescriptors.status(READ_TTL));
        workflows = getRuntimeContext().getMapState(StageStateDescriptors.workflowRun(READ_TTL));
        legacyWorkflows = getRuntimeContext().getMapState(StageStateDescriptors.workflow(READ_TTL));
        ladderSteps = getRuntimeContext().getMapState(StageStateDescriptors.ladderStep(READ_TTL));
        ladderWaits = getRuntimeContext().getMapState(StageStateDescriptors.ladderWait());
        active = getRuntimeContext().getState(StageStateDescriptors.active());
        legacyParked = getRuntimeContext().getListState(StageStateDescriptors.parked());
        parkedEvents = getRuntimeContext().getMapState(StageStateDescriptors.parkedEvents());
    }

    @Override
    public void readKey(String key, Context context, Collector<StageStateEntry> out) throws Exception {
        for (Map.Entry<String, EventStatus> e : status.entries()) {
            StageStateEntry entry = new StageStateEntry(StageStateEntry.Kind.STATUS, key, e.getKey());
            entry.status = e.getValue().name();
            out.collect(entry);
        }
        for (Map.Entry<String, WorkflowState> e : legacyWorkflows.entries()) {
            out.collect(workflowEntry(key, e.getKey(), WorkflowRun.from(e.getValue())));
        }
        for (Map.Entry<String, WorkflowRun> e : workflows.entries()) {
            out.collect(workflowEntry(key, e.getKey(), e.getValue()));
        }
        for (Map.Entry<String, LadderWait> e : ladderWaits.entries()) {
            LadderWait wait = e.getValue();
            StageStateEntry entry = new StageStateEntry(StageStateEntry.Kind.LADDER_WAIT, key, e.getKey());
            entry.stage = wait.record.stage;
            entry.step = wait.record.retryStep;
            entry.dueAt = wait.record.dueAt;
            entry.progress = wait.record.progress;
            entry.resends = wait.resends;
            entry.timer = wait.timer;
            entry.since = wait.record.failureAt;
            out.collect(entry);
        }
        for (Map.Entry<String, Integer> e : ladderSteps.entries()) {
            StageStateEntry entry = new StageStateEntry(StageStateEntry.Kind.LADDER_STEP, key, e.getKey());
            entry.step = e.getValue();
            out.collect(entry);
        }
        String running = active.value();
        if (running != null) {
            out.collect(new StageStateEntry(StageStateEntry.Kind.ACTIVE, key, running));
        }
        long sequence = 0;
        Iterable<Event> legacy = legacyParked.get();
        if (legacy != null) {
            for (Event event : legacy) {
                parked(key, event, sequence++, out);
            }
        }
        for (Map.Entry<Long, Event> e : parkedEvents.entries()) {
            parked(key, e.getValue(), e.getKey(), out);
        }
    }

    private void parked(String key, Event event, long sequence, Collector<StageStateEntry> out) {
        StageStateEntry entry = new StageStateEntry(StageStateEntry.Kind.PARKED, key, event.id);
        entry.sequence = sequence;
        entry.since = since(event);
        out.collect(entry);
    }

    private static long since(Event event) {
        return event == null || event.origin == null ? 0 : event.origin.timestamp;
    }

    private static StageStateEntry workflowEntry(String key, String eventId, WorkflowRun ws) {
        StageStateEntry entry = new StageStateEntry(StageStateEntry.Kind.WORKFLOW, key, eventId);
        entry.phase = ws.phase == null ? null : ws.phase.name();
        entry.progress = ws.progress == null ? null : ws.progress.toJson();
        entry.stage = ws.progress == null ? null : ws.progress.pendingStage();
        entry.tierAttempts = ws.tierAttempts;
        entry.timer = ws.timer;
        entry.since = since(ws.event);
        if (ws.event != null) {
            entry.step = ws.event.retryStep;
            entry.dueAt = ws.event.dueAt;
        }
        return entry;
    }
}
