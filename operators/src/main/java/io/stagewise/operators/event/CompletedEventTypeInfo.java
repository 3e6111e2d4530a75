package io.stagewise.operators.event;

import java.io.IOException;
import java.lang.reflect.Type;
import java.util.Map;
import org.apache.flink.api.common.typeinfo.TypeInfoFactory;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeutils.SimpleTypeSerializerSnapshot;
import org.apache.flink.api.common.typeutils.TypeSerializerSnapshot;
import org.apache.flink.api.common.typeutils.base.TypeSerializerSingleton;
import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputView;
import org.apache.flink.types.StringValue;

/**
 * The type of {@link CompletedEvent} (declared on the class with {@code @TypeInfo}): an explicit
 * field-by-field serializer instead of Flink's reflective POJO serializer, used for the copy from the
 * stage engine to the chained output sink on every completed event.
 *
 * <p>Guarantee: a copy or a serialized round trip equals the original field by field, nulls included.
 * {@code CompletedEvent} is never held in keyed or operator state (it goes straight to the output
 * sink), so no savepoint holds this format; the format is versioned all the same (version 2).
 */
public final class CompletedEventTypeInfo extends ExplicitTypeInfo<CompletedEvent> {
    private static final long serialVersionUID = 1L;

    public static final CompletedEventTypeInfo INSTANCE = new CompletedEventTypeInfo();

    private CompletedEventTypeInfo() {
        super(CompletedEvent.class, FieldSerializer.INSTANCE, "CompletedEvent(explicit serializer v2)");
    }

    /** Named by {@code @TypeInfo} on {@link CompletedEvent}. */
    public static final class Factory extends TypeInfoFactory<CompletedEvent> {
        @Override
        public TypeInformation<CompletedEvent> createTypeInfo(Type type, Map<String, TypeInformation<?>> generics) {
            return INSTANCE;
        }
    }

    /**
     * Format version 2: the strings in {@link StringValue} form, the payload either as its UTF-8 bytes
     * (length + 1, then the bytes) or as text (0, then the string), then the origin (if any), then the
     * time. Never in state (version 1 differed only in the payload, always text), so no savepoint reads it.
     */
    public static final class FieldSerializer extends TypeSerializerSingleton<CompletedEvent> {
        private static final long serialVersionUID = 1L;

        public static final FieldSerializer INSTANCE = new FieldSerializer();

        private FieldSerializer() {}

        @Override
        public boolean isImmutableType() {
            return false;
        }

        @Override
        public CompletedEvent createInstance() {
            return new CompletedEvent();
        }

        @Override
        public CompletedEvent copy(CompletedEvent from) {
            CompletedEvent to = new CompletedEvent();
            to.eventId = from.eventId;
            to.type = from.type;
            to.key = from.key;
            to.payload = from.payload;
            to.payloadBytes = from.payloadBytes; // never modified: shared, as the chained copy may
            to.payloadStart = from.payloadStart;
            to.payloadLength = from.payloadLength;
            to.outputs = from.outputs;
            to.completedAt = from.completedAt;
            to.origin = from.origin == null ? null
                    : new Origin(from.origin.topic, from.origin.partition, from.origin.offset, from.origin.timestamp);
            return to;
        }

        @Override
        public CompletedEvent copy(CompletedEvent from, CompletedEvent reuse) {
            return copy(from);
        }

        @Override
        public int getLength() {
            return -1;
        }

        @Override
        public void serialize(CompletedEvent done, DataOutputView target) throws IOException {
            StringValue.writeString(done.eventId, target);
            StringValue.writeString(done.type, target);
            StringValue.writeString(done.key, target);
            if (done.payloadBytes != null) {
                target.writeInt(done.payloadLength + 1);
                target.write(done.payloadBytes, done.payloadStart, done.payloadLength);
            } else {
                target.writeInt(0);
                StringValue.writeString(done.payload, target);
            }
            StringValue.writeString(done.outputs, target);
            target.writeLong(done.completedAt);
            target.writeBoolean(done.origin != null);
            if (done.origin != null) {
                StringValue.writeString(done.origin.topic, target);
                target.writeInt(done.origin.partition);
                target.writeLong(done.origin.offset);
                target.writeLong(done.origin.timestamp);
            }
        }

        @Override
        public CompletedEvent deserialize(DataInputView source) throws IOException {
            CompletedEvent done = new CompletedEvent();
            done.eventId = StringValue.readString(source);
            done.type = StringValue.readString(source);
            done.key = StringValue.readString(source);
            int payloadBytes = source.readInt();
            if (payloadBytes > 0) {
                done.payloadBytes = new byte[payloadBytes - 1];
                source.readFully(done.payloadBytes);
                done.payloadLength = payloadBytes - 1;
            } else {
                done.payload = StringValue.readString(source);
            }
            done.outputs = StringValue.readString(source);
            done.completedAt = source.readLong();
            if (source.readBoolean()) {
                done.origin = new Origin(StringValue.readString(source), source.readInt(), source.readLong(),
                        source.readLong());
            }
            return done;
        }

        @Override
        public CompletedEvent deserialize(CompletedEvent reuse, DataInputView source) throws IOException {
            return deserialize(source);
        }

        @Override
        public void copy(DataInputView source, DataOutputView target) throws IOException {
            serialize(deserialize(source), target);
        }

        @Override
        public TypeSerializerSnapshot<CompletedEvent> snapshotConfiguration() {
            return new Snapshot();
        }

        /** Snapshot of the format (never written to a savepoint: {@code CompletedEvent} is not state). */
        public static final class Snapshot extends SimpleTypeSerializerSnapshot<CompletedEvent> {
            public Snapshot() {
                super(() -> INSTANCE);
            }
        }
    }
}
