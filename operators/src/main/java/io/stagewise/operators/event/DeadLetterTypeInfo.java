package io.stagewise.operators.event;

import java.io.IOException;
import org.apache.flink.annotation.Internal;
import org.apache.flink.api.common.typeutils.SimpleTypeSerializerSnapshot;
import org.apache.flink.api.common.typeutils.TypeSerializerSnapshot;
import org.apache.flink.api.common.typeutils.base.TypeSerializerSingleton;
import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputView;
import org.apache.flink.types.StringValue;

/**
 * The type of the dead-letter and retry-record side outputs ({@code MalformedSplit.DEAD_LETTERS},
 * {@code StageOperator.DEAD_LETTERS}, {@code StageOperator.RETRIES}): {@link DeadLetter} with an
 * explicit field-by-field serializer instead of Flink's reflective POJO serializer, for the records
 * that cross the network to the DLQ and retry sinks.
 *
 * <p>Guarantee: a copy or a serialized round trip equals the original field by field, nulls
 * included, so a dead letter reaches the DLQ with the original key and value bytes untouched.
 *
 * <p>Not a state type: keyed state that holds a dead letter ({@code ladder-wait}, inside
 * {@code LadderWait}) declares it through {@code TypeInformation.of}, a Flink POJO, and keeps that
 * layout. Records in flight are in this format only in an unaligned checkpoint's channel state, so a
 * change of format is rolled out through a savepoint (always aligned), like {@link EventSerializer}'s.
 */
@Internal
public final class DeadLetterTypeInfo extends ExplicitTypeInfo<DeadLetter> {
    private static final long serialVersionUID = 1L;

    public static final DeadLetterTypeInfo INSTANCE = new DeadLetterTypeInfo();

    private DeadLetterTypeInfo() {
        super(DeadLetter.class, FieldSerializer.INSTANCE, "DeadLetter(explicit serializer v1)");
    }

    /**
     * Format version 1: a flag byte (no origin), the strings in {@link StringValue} form (the reason
     * by name, so reordering the enum changes nothing), byte arrays with their length (+1, 0 = null),
     * the origin, the numbers.
     */
    public static final class FieldSerializer extends TypeSerializerSingleton<DeadLetter> {
        private static final long serialVersionUID = 1L;

        public static final FieldSerializer INSTANCE = new FieldSerializer();

        private static final int NO_ORIGIN = 1;

        private FieldSerializer() {}

        @Override
        public boolean isImmutableType() {
            return false;
        }

        @Override
        public DeadLetter createInstance() {
            return new DeadLetter();
        }

        @Override
        public DeadLetter copy(DeadLetter from) {
            DeadLetter to = new DeadLetter();
            to.eventId = from.eventId;
            to.recordKey = FieldCodec.copy(from.recordKey);
            to.value = FieldCodec.copy(from.value);
            to.origin = FieldCodec.copy(from.origin);
            to.stage = from.stage;
            to.reason = from.reason;
            to.failureClass = from.failureClass;
            to.failureMessage = from.failureMessage;
            to.failureAt = from.failureAt;
            to.retryCount = from.retryCount;
            to.progress = from.progress;
            to.replayOf = from.replayOf;
            to.retryStep = from.retryStep;
            to.dueAt = from.dueAt;
            to.causeClass = from.causeClass;
            to.stacktrace = from.stacktrace;
            return to;
        }

        @Override
        public DeadLetter copy(DeadLetter from, DeadLetter reuse) {
            return copy(from);
        }

        @Override
        public int getLength() {
            return -1;
        }

        @Override
        public void serialize(DeadLetter letter, DataOutputView target) throws IOException {
            Origin origin = letter.origin;
            target.writeByte(origin == null ? NO_ORIGIN : 0);
            StringValue.writeString(letter.eventId, target);
            FieldCodec.writeBytes(letter.recordKey, target);
            FieldCodec.writeBytes(letter.value, target);
            if (origin != null) {
                FieldCodec.writeOrigin(origin, target);
            }
            StringValue.writeString(letter.stage, target);
            StringValue.writeString(letter.reason == null ? null : letter.reason.name(), target);
            StringValue.writeString(letter.failureClass, target);
            StringValue.writeString(letter.failureMessage, target);
            target.writeLong(letter.failureAt);
            target.writeInt(letter.retryCount);
            StringValue.writeString(letter.progress, target);
            StringValue.writeString(letter.replayOf, target);
            target.writeInt(letter.retryStep);
            target.writeLong(letter.dueAt);
            StringValue.writeString(letter.causeClass, target);
            StringValue.writeString(letter.stacktrace, target);
        }

        @Override
        public DeadLetter deserialize(DataInputView source) throws IOException {
            DeadLetter letter = new DeadLetter();
            int flags = source.readByte();
            letter.eventId = StringValue.readString(source);
            letter.recordKey = FieldCodec.readBytes(source);
            letter.value = FieldCodec.readBytes(source);
            if ((flags & NO_ORIGIN) == 0) {
                letter.origin = FieldCodec.readOrigin(source);
            }
            letter.stage = StringValue.readString(source);
            String reason = StringValue.readString(source);
            letter.reason = reason == null ? null : FailureReason.valueOf(reason);
            letter.failureClass = StringValue.readString(source);
            letter.failureMessage = StringValue.readString(source);
            letter.failureAt = source.readLong();
            letter.retryCount = source.readInt();
            letter.progress = StringValue.readString(source);
            letter.replayOf = StringValue.readString(source);
            letter.retryStep = source.readInt();
            letter.dueAt = source.readLong();
            letter.causeClass = StringValue.readString(source);
            letter.stacktrace = StringValue.readString(source);
            return letter;
        }

        @Override
        public DeadLetter deserialize(DeadLetter reuse, DataInputView source) throws IOException {
            return deserialize(source);
        }

        @Override
        public void copy(DataInputView source, DataOutputView target) throws IOException {
            serialize(deserialize(source), target);
        }

        @Override
        public TypeSerializerSnapshot<DeadLetter> snapshotConfiguration() {
            return new Snapshot();
        }

        /** Snapshot of format version 1. */
        public static final class Snapshot extends SimpleTypeSerializerSnapshot<DeadLetter> {
            public Snapshot() {
                super(() -> INSTANCE);
            }
        }
    }
}
