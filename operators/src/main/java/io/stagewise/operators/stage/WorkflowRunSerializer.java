package io.stagewise.operators.stage;

import io.stagewise.operators.event.Event;
import io.stagewise.operators.event.EventSerializer;
import java.io.IOException;
import org.apache.flink.annotation.Internal;
import org.apache.flink.api.common.typeutils.CompositeTypeSerializerSnapshot;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.common.typeutils.TypeSerializerSnapshot;
import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputView;

/**
 * Explicit serializer of {@link WorkflowRun}: the event ({@link EventSerializer}), the progress
 * ({@link ProgressSerializer}), then tier attempts, phase (a fixed code, -1 for none) and timer.
 * Guarantee: {@code deserialize(serialize(r))} equals {@code r} field by field.
 *
 * <p>Compatibility plan: the snapshot is composite, so the event's and the progress' own snapshots
 * decide for their parts (a new format of either migrates through its reader of the old one); a
 * change of this outer layout bumps {@link WorkflowRunSerializerSnapshot#getCurrentOuterSnapshotVersion()}.
 */
@Internal
public final class WorkflowRunSerializer extends TypeSerializer<WorkflowRun> {
    private static final long serialVersionUID = 1L;

    public static final WorkflowRunSerializer INSTANCE = new WorkflowRunSerializer(EventSerializer.INSTANCE,
            ProgressSerializer.INSTANCE);

    private final TypeSerializer<Event> events;
    private final TypeSerializer<Progress> progresses;

    WorkflowRunSerializer(TypeSerializer<Event> events, TypeSerializer<Progress> progresses) {
        this.events = events;
        this.progresses = progresses;
    }

    @Override
    public boolean isImmutableType() {
        return false;
    }

    @Override
    public TypeSerializer<WorkflowRun> duplicate() {
        TypeSerializer<Event> e = events.duplicate();
        TypeSerializer<Progress> p = progresses.duplicate();
        return e == events && p == progresses ? this : new WorkflowRunSerializer(e, p);
    }

    @Override
    public WorkflowRun createInstance() {
        return new WorkflowRun();
    }

    @Override
    public WorkflowRun copy(WorkflowRun from) {
        WorkflowRun to = new WorkflowRun(from.event == null ? null : events.copy(from.event),
                from.progress == null ? null : progresses.copy(from.progress));
        to.tierAttempts = from.tierAttempts;
        to.phase = from.phase;
        to.timer = from.timer;
        return to;
    }

    @Override
    public WorkflowRun copy(WorkflowRun from, WorkflowRun reuse) {
        return copy(from);
    }

    @Override
    public int getLength() {
        return -1;
    }

    @Override
    public void serialize(WorkflowRun run, DataOutputView target) throws IOException {
        events.serialize(run.event, target);
        progresses.serialize(run.progress == null ? Progress.empty() : run.progress, target);
        target.writeInt(run.tierAttempts);
        target.writeByte(code(run.phase));
        target.writeLong(run.timer);
    }

    @Override
    public WorkflowRun deserialize(DataInputView source) throws IOException {
        WorkflowRun run = new WorkflowRun(events.deserialize(source), progresses.deserialize(source));
        run.tierAttempts = source.readInt();
        run.phase = phase(source.readByte());
        run.timer = source.readLong();
        return run;
    }

    @Override
    public WorkflowRun deserialize(WorkflowRun reuse, DataInputView source) throws IOException {
        return deserialize(source);
    }

    @Override
    public void copy(DataInputView source, DataOutputView target) throws IOException {
        serialize(deserialize(source), target);
    }

    /** Fixed codes, not ordinals: reordering the enum must not change stored state. */
    private static int code(WorkflowRun.Phase phase) {
        if (phase == null) {
            return -1;
        }
        switch (phase) {
            case IN_FLIGHT:
                return 0;
            case BACKOFF:
                return 1;
            case WAITING:
                return 2;
            default:
                throw new IllegalArgumentException("no state code for phase " + phase);
        }
    }

    private static WorkflowRun.Phase phase(int code) throws IOException {
        switch (code) {
            case -1:
                return null;
            case 0:
                return WorkflowRun.Phase.IN_FLIGHT;
            case 1:
                return WorkflowRun.Phase.BACKOFF;
            case 2:
                return WorkflowRun.Phase.WAITING;
            default:
                throw new IOException("unknown workflow phase code " + code + " in state");
        }
    }

    @Override
    public boolean equals(Object obj) {
        return obj instanceof WorkflowRunSerializer other && events.equals(other.events)
                && progresses.equals(other.progresses);
    }

    @Override
    public int hashCode() {
        return 31 * events.hashCode() + progresses.hashCode();
    }

    @Override
    public TypeSerializerSnapshot<WorkflowRun> snapshotConfiguration() {
        return new WorkflowRunSerializerSnapshot(this);
    }

    /** Composite snapshot: outer layout version 1, nested event and progress snapshots. */
    public static final class WorkflowRunSerializerSnapshot
            extends CompositeTypeSerializerSnapshot<WorkflowRun, WorkflowRunSerializer> {
        private static final int VERSION = 1;

        public WorkflowRunSerializerSnapshot() {}

        WorkflowRunSerializerSnapshot(WorkflowRunSerializer serializer) {
            super(serializer);
        }

        @Override
        protected int getCurrentOuterSnapshotVersion() {
            return VERSION;
        }

        @Override
        protected TypeSerializer<?>[] getNestedSerializers(WorkflowRunSerializer outer) {
            return new TypeSerializer<?>[] {outer.events, outer.progresses};
        }

        @Override
        @SuppressWarnings("unchecked")
        protected WorkflowRunSerializer createOuterSerializerWithNestedSerializers(TypeSerializer<?>[] nested) {
            return new WorkflowRunSerializer((TypeSerializer<Event>) nested[0], (TypeSerializer<Progress>) nested[1]);
        }
    }
}
