package io.stagewise.operators.event;

import java.io.IOException;
import org.apache.flink.api.common.typeutils.SimpleTypeSerializerSnapshot;
import org.apache.flink.api.common.typeutils.TypeSerializerSnapshot;
import org.apache.flink.api.common.typeutils.base.TypeSerializerSingleton;
import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputView;
import org.apache.flink.types.StringValue;

/**
 * Explicit serializer of {@link Event} for the records that cross the network (the keyed shuffle in
 * front of the stage engine) and the copies between chained operators: field by field, no reflection.
 *
 * <p>Guarantee: {@code deserialize(serialize(e))} equals {@code e} field by field, nulls included, so
 * the shuffle loses nothing of the original record (its key and value bytes go to a dead letter
 * unchanged). Format version 1: a null mask, the strings in {@link StringValue} form, byte arrays
 * with their length (+1, 0 = null), the origin, the numbers. A later format gets a new snapshot version.
 *
 * <p>Stored state: the stage engine's in-flight workflows (state {@code workflow-run}) hold their
 * event in this format, as part of {@code WorkflowRunSerializer}; its other states declare
 * {@code Event} through {@code TypeInformation.of(Event.class)}, a Flink POJO, and keep that layout
 * (docs/state-and-dedup.md). Records in flight are in it too when a checkpoint is unaligned: its
 * channel state holds shuffled events in this format. A change of the format must therefore get a
 * new snapshot version whose {@code restoreSerializer} still reads this one (so keyed state migrates
 * on restore), and be rolled out through a savepoint (always aligned, no in-flight records), not by
 * restoring an unaligned checkpoint.
 */
public final class EventSerializer extends TypeSerializerSingleton<Event> {
    private static final long serialVersionUID = 1L;

    public static final EventSerializer INSTANCE = new EventSerializer();

    private static final int NO_ORIGIN = 1;

    private EventSerializer() {}

    @Override
    public boolean isImmutableType() {
        return false;
    }

    @Override
    public Event createInstance() {
        return new Event();
    }

    @Override
    public Event copy(Event from) {
        Event to = new Event();
        to.id = from.id;
        to.type = from.type;
        to.key = from.key;
        to.occurredAt = from.occurredAt;
        to.payload = from.payload;
        to.recordKey = from.recordKey == null ? null : from.recordKey.clone();
        to.value = from.value == null ? null : from.value.clone();
        to.origin = from.origin == null ? null
                : new Origin(from.origin.topic, from.origin.partition, from.origin.offset, from.origin.timestamp);
        to.replayOf = from.replayOf;
        to.repairOf = from.repairOf;
        to.progress = from.progress;
        to.retryCount = from.retryCount;
        to.retryStep = from.retryStep;
        to.dueAt = from.dueAt;
        to.malformed = from.malformed;
        return to;
    }

    @Override
    public Event copy(Event from, Event reuse) {
        return copy(from);
    }

    @Override
    public int getLength() {
        return -1;
    }

    @Override
    public void serialize(Event event, DataOutputView target) throws IOException {
        Origin origin = event.origin;
        target.writeByte(origin == null ? NO_ORIGIN : 0);
        StringValue.writeString(event.id, target);
        StringValue.writeString(event.type, target);
        StringValue.writeString(event.key, target);
        StringValue.writeString(event.occurredAt, target);
        StringValue.writeString(event.payload, target);
        writeBytes(event.recordKey, target);
        writeBytes(event.value, target);
        if (origin != null) {
            StringValue.writeString(origin.topic, target);
            target.writeInt(origin.partition);
            target.writeLong(origin.offset);
            target.writeLong(origin.timestamp);
        }
        StringValue.writeString(event.replayOf, target);
        StringValue.writeString(event.repairOf, target);
        StringValue.writeString(event.progress, target);
        target.writeInt(event.retryCount);
        target.writeInt(event.retryStep);
        target.writeLong(event.dueAt);
        StringValue.writeString(event.malformed, target);
    }

    @Override
    public Event deserialize(DataInputView source) throws IOException {
        Event event = new Event();
        int flags = source.readByte();
        event.id = StringValue.readString(source);
        event.type = StringValue.readString(source);
        event.key = StringValue.readString(source);
        event.occurredAt = StringValue.readString(source);
        event.payload = StringValue.readString(source);
        event.recordKey = readBytes(source);
        event.value = readBytes(source);
        if ((flags & NO_ORIGIN) == 0) {
            event.origin = new Origin(StringValue.readString(source), source.readInt(), source.readLong(),
                    source.readLong());
        }
        event.replayOf = StringValue.readString(source);
        event.repairOf = StringValue.readString(source);
        event.progress = StringValue.readString(source);
        event.retryCount = source.readInt();
        event.retryStep = source.readInt();
        event.dueAt = source.readLong();
        event.malformed = StringValue.readString(source);
        return event;
    }

    @Override
    public Event deserialize(Event reuse, DataInputView source) throws IOException {
        return deserialize(source);
    }

    @Override
    public void copy(DataInputView source, DataOutputView target) throws IOException {
        serialize(deserialize(source), target);
    }

    private static void writeBytes(byte[] bytes, DataOutputView target) throws IOException {
        if (bytes == null) {
            target.writeInt(0);
        } else {
            target.writeInt(bytes.length + 1);
            target.write(bytes);
        }
    }

    private static byte[] readBytes(DataInputView source) throws IOException {
        int length = source.readInt();
        if (length == 0) {
            return null;
        }
        byte[] bytes = new byte[length - 1];
        source.readFully(bytes);
        return bytes;
    }

    @Override
    public TypeSerializerSnapshot<Event> snapshotConfiguration() {
        return new EventSerializerSnapshot();
    }

    /** Snapshot of format version 1; compatible as is with itself. */
    public static final class EventSerializerSnapshot extends SimpleTypeSerializerSnapshot<Event> {
        public EventSerializerSnapshot() {
            super(() -> INSTANCE);
        }
    }
}
