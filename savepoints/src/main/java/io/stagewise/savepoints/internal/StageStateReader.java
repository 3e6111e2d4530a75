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
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.typeutils.base.LongSerializer;
import org.apache.flink.runtime.state.ttl.TtlStateFactory.TtlSerializer;
import org.apache.flink.runtime.state.ttl.TtlValue;
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
 *
 * <p>Dedup records ({@link StageStateDescriptors#STATUS}) are read with the value serializer Flink
 * itself stores TTL'd values with ({@link TtlSerializer}: the last-write timestamp, then the value)
 * instead of through a TTL config, which would unwrap the value and drop the timestamp. The bytes
 * and the serializer snapshot in the savepoint are the same either way, so the restore accepts it;
 * the timestamp (processing time of the record's last write, the TTL's update type being
 * {@code OnCreateAndWrite}) is the record's age. The name, key and value types still come from
 * the operator's own descriptor.
 *
 * <p>With an event id to look for ({@code --id}), each key's maps are probed by that id (point
 * lookups) and only the parked queue of a key that knows the event is scanned. Every key is still
 * visited: keyed state is partitioned by business key, and the State Processor API offers no lookup
 * of the key that holds an event id. Keys without the event emit nothing (the reading job drops the
 * nulls the State Processor API hands on for them, see SavepointInspection).
 */
@Internal
public final class StageStateReader extends KeyedStateReaderFunction<String, StageStateEntry> {
    private static final long serialVersionUID = 1L;
    /** Longer than any state TTL a job sets; see the class comment. */
    static final Duration READ_TTL = Duration.ofDays(365L * 1000);

    /** Only this event's entries, or every entry when null. */
    private final String eventId;
    private transient MapState<String, TtlValue<EventStatus>> status;
    private transient MapState<String, WorkflowRun> workflows;
    /** Written by versions before typed progress; moved into {@link #workflows} when the job opens. */
    private transient MapState<String, WorkflowState> legacyWorkflows;
    private transient MapState<String, Integer> ladderSteps;
    private transient MapState<String, LadderWait> ladderWaits;
    private transient ValueState<String> active;
    private transient ListState<Event> legacyParked;
    private transient MapState<Long, Event> parkedEvents;

    /** Reads every entry. */
    public StageStateReader() {
        this(null);
    }

    /** Reads {@code eventId}'s entries only, or every entry when it is null. */
    public StageStateReader(String eventId) {
        this.eventId = eventId;
    }

    @Override
    public void open(OpenContext context) {
        MapStateDescriptor<String, EventStatus> declared = StageStateDescriptors.status(READ_TTL);
        declared.initializeSerializerUnlessSet(getRuntimeContext()::createSerializer);
        status = getRuntimeContext().getMapState(new MapStateDescriptor<>(declared.getName(), declared.getKeySerializer(),
                new TtlSerializer<>(LongSerializer.INSTANCE, declared.getValueSerializer())));
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
        if (eventId != null) {
            readOne(key, out);
            return;
        }
        for (Map.Entry<String, TtlValue<EventStatus>> e : status.entries()) {
            status(key, e.getKey(), e.getValue(), out);
        }
        for (Map.Entry<String, WorkflowState> e : legacyWorkflows.entries()) {
            out.collect(workflowEntry(key, e.getKey(), WorkflowRun.from(e.getValue())));
        }
        for (Map.Entry<String, WorkflowRun> e : workflows.entries()) {
            out.collect(workflowEntry(key, e.getKey(), e.getValue()));
        }
        for (Map.Entry<String, LadderWait> e : ladderWaits.entries()) {
            ladderWait(key, e.getKey(), e.getValue(), out);
        }
        for (Map.Entry<String, Integer> e : ladderSteps.entries()) {
            ladderStep(key, e.getKey(), e.getValue(), out);
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

    /**
     * {@link #eventId}'s entries under {@code key}: point lookups by event id in each map, then,
     * only if the key knows the event or runs one, a scan of its parked queue (keyed by sequence).
     */
    private void readOne(String key, Collector<StageStateEntry> out) throws Exception {
        TtlValue<EventStatus> record = status.get(eventId);
        if (record != null) {
            status(key, eventId, record, out);
        }
        WorkflowRun run = workflows.get(eventId);
        if (run != null) {
            out.collect(workflowEntry(key, eventId, run));
        }
        WorkflowState legacyRun = legacyWorkflows.get(eventId);
        if (legacyRun != null) {
            out.collect(workflowEntry(key, eventId, WorkflowRun.from(legacyRun)));
        }
        LadderWait wait = ladderWaits.get(eventId);
        if (wait != null) {
            ladderWait(key, eventId, wait, out);
        }
        Integer step = ladderSteps.get(eventId);
        if (step != null) {
            ladderStep(key, eventId, step, out);
        }
        String running = active.value();
        if (eventId.equals(running)) {
            out.collect(new StageStateEntry(StageStateEntry.Kind.ACTIVE, key, running));
        }
        if (record == null && running == null) {
            return; // a parked event has a dedup record, and waits behind a running one
        }
        long sequence = 0;
        Iterable<Event> legacy = legacyParked.get();
        if (legacy != null) {
            for (Event event : legacy) {
                if (eventId.equals(event.id)) {
                    parked(key, event, sequence, out);
                }
                sequence++;
            }
        }
        for (Map.Entry<Long, Event> e : parkedEvents.entries()) {
            if (eventId.equals(e.getValue().id)) {
                parked(key, e.getValue(), e.getKey(), out);
            }
        }
    }

    private static void status(String key, String id, TtlValue<EventStatus> record, Collector<StageStateEntry> out) {
        StageStateEntry entry = new StageStateEntry(StageStateEntry.Kind.STATUS, key, id);
        entry.status = record.getUserValue().name();
        entry.since = record.getLastAccessTimestamp();
        out.collect(entry);
    }

    private static void ladderWait(String key, String id, LadderWait wait, Collector<StageStateEntry> out) {
        StageStateEntry entry = new StageStateEntry(StageStateEntry.Kind.LADDER_WAIT, key, id);
        entry.stage = wait.record.stage;
        entry.step = wait.record.retryStep;
        entry.dueAt = wait.record.dueAt;
        entry.progress = wait.record.progress;
        entry.resends = wait.resends;
        entry.timer = wait.timer;
        entry.since = wait.record.failureAt;
        out.collect(entry);
    }

    private static void ladderStep(String key, String id, int step, Collector<StageStateEntry> out) {
        StageStateEntry entry = new StageStateEntry(StageStateEntry.Kind.LADDER_STEP, key, id);
        entry.step = step;
        out.collect(entry);
    }

    private static void parked(String key, Event event, long sequence, Collector<StageStateEntry> out) {
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
