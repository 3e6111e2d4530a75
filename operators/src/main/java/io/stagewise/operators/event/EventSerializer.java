package io.stagewise.operators.event;

import java.io.IOException;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.common.typeutils.TypeSerializerSchemaCompatibility;
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
 * unchanged, its payload reaches the output byte for byte).
 *
 * <p>Format version 2 (snapshot version {@value EventSerializerSnapshot#FORMAT_2}): a flag byte (no
 * origin; payload as a slice of the value), the strings in {@link StringValue} form, byte arrays with
 * their length (+1, 0 = null), the origin, the numbers. The payload travels once: as its offset and
 * length in the value bytes when the parser located it there ({@link Event#hasPayloadSlice()}), else
 * as text. Version 1 (snapshot version {@value EventSerializerSnapshot#FORMAT_1}, the snapshot class's
 * first layout) wrote the payload as text next to the value that already held it.
 *
 * <p>Stored state and the savepoint compatibility plan: the stage engine's in-flight workflows (state
 * {@code workflow-run}) hold their event in this format, as part of {@code WorkflowRunSerializer}.
 * A savepoint or checkpoint written with format 1 restores: the snapshot reads its version, declares
 * the new serializer compatible after migration, and Flink rewrites the state from the format 1
 * reader ({@link #formatOneReader()}) to format 2. Records in flight are in this format too when a
 * checkpoint is unaligned (channel state): roll a format change out through a savepoint (always
 * aligned), not by restoring an unaligned checkpoint. The parked-events state declares
 * {@code TypeInformation.of(Event.class)}, a Flink POJO, and keeps that layout (docs/state-and-dedup.md).
 */
public final class EventSerializer extends TypeSerializerSingleton<Event> {
    private static final long serialVersionUID = 1L;

    public static final EventSerializer INSTANCE = new EventSerializer();

    private static final int NO_ORIGIN = 1;
    private static final int PAYLOAD_SLICE = 2;

    /** Reads and writes format 1 only: the restore serializer of state written with it. */
    private final boolean formatOne;

    private EventSerializer() {
        this(false);
    }

    private EventSerializer(boolean formatOne) {
        this.formatOne = formatOne;
    }

    /** The serializer of format 1 (payload as text next to the value), for state written with it. */
    static EventSerializer formatOneReader() {
        return new EventSerializer(true);
    }

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
        to.payloadStart = from.payloadStart;
        to.payloadLength = from.payloadLength;
        to.recordKey = FieldCodec.copy(from.recordKey);
        to.value = FieldCodec.copy(from.value);
        to.origin = FieldCodec.copy(from.origin);
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
        boolean slice = !formatOne && event.hasPayloadSlice();
        target.writeByte((origin == null ? NO_ORIGIN : 0) | (slice ? PAYLOAD_SLICE : 0));
        StringValue.writeString(event.id, target);
        StringValue.writeString(event.type, target);
        StringValue.writeString(event.key, target);
        StringValue.writeString(event.occurredAt, target);
        if (slice) {
            target.writeInt(event.payloadStart);
            target.writeInt(event.payloadLength);
        } else {
            StringValue.writeString(formatOne ? event.payloadText() : event.payload, target);
        }
        FieldCodec.writeBytes(event.recordKey, target);
        FieldCodec.writeBytes(event.value, target);
        if (origin != null) {
            FieldCodec.writeOrigin(origin, target);
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
        if ((flags & PAYLOAD_SLICE) != 0) {
            event.payloadStart = source.readInt();
            event.payloadLength = source.readInt();
        } else {
            event.payload = StringValue.readString(source);
        }
        event.recordKey = FieldCodec.readBytes(source);
        event.value = FieldCodec.readBytes(source);
        if ((flags & NO_ORIGIN) == 0) {
            event.origin = FieldCodec.readOrigin(source);
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

    @Override
    public TypeSerializerSnapshot<Event> snapshotConfiguration() {
        return new EventSerializerSnapshot(formatOne ? EventSerializerSnapshot.FORMAT_1 : EventSerializerSnapshot.FORMAT_2);
    }

    @Override
    public boolean equals(Object obj) {
        return obj instanceof EventSerializer other && other.formatOne == formatOne;
    }

    @Override
    public int hashCode() {
        return formatOne ? 1 : 2;
    }

    /**
     * Snapshot of the format. Its class name is what savepoints name, so it never changes; its version
     * is the format: {@value #FORMAT_1} is format 1, written by this class when it was a
     * {@code SimpleTypeSerializerSnapshot} (no content), {@value #FORMAT_2} format 2 (no content either).
     */
    public static final class EventSerializerSnapshot implements TypeSerializerSnapshot<Event> {
        /** The version {@code SimpleTypeSerializerSnapshot} wrote for format 1. */
        static final int FORMAT_1 = 3;
        static final int FORMAT_2 = 4;

        private int format;

        public EventSerializerSnapshot() {
            this(FORMAT_2);
        }

        EventSerializerSnapshot(int format) {
            this.format = format;
        }

        @Override
        public int getCurrentVersion() {
            return format;
        }

        @Override
        public void writeSnapshot(DataOutputView out) {
            // The version says it all.
        }

        @Override
        public void readSnapshot(int readVersion, DataInputView in, ClassLoader userCodeClassLoader) throws IOException {
            if (readVersion != FORMAT_1 && readVersion != FORMAT_2) {
                throw new IOException("unknown EventSerializer snapshot version " + readVersion + " (this build reads "
                        + FORMAT_1 + " and " + FORMAT_2 + "): state written by a newer Stagewise");
            }
            format = readVersion;
        }

        @Override
        public TypeSerializer<Event> restoreSerializer() {
            return format == FORMAT_1 ? formatOneReader() : INSTANCE;
        }

        @Override
        public TypeSerializerSchemaCompatibility<Event> resolveSchemaCompatibility(TypeSerializerSnapshot<Event> oldSnapshot) {
            if (!(oldSnapshot instanceof EventSerializerSnapshot old)) {
                return TypeSerializerSchemaCompatibility.incompatible();
            }
            if (old.format == format) {
                return TypeSerializerSchemaCompatibility.compatibleAsIs();
            }
            return old.format == FORMAT_1 && format == FORMAT_2
                    ? TypeSerializerSchemaCompatibility.compatibleAfterMigration()
                    : TypeSerializerSchemaCompatibility.incompatible();
        }
    }
}
