package io.stagewise.operators.stage;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.apache.flink.annotation.Internal;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.common.typeutils.TypeSerializerSchemaCompatibility;
import org.apache.flink.api.common.typeutils.TypeSerializerSnapshot;
import org.apache.flink.api.common.typeutils.base.TypeSerializerSingleton;
import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputView;
import org.apache.flink.types.StringValue;

/**
 * Explicit serializer of {@link Progress} in keyed state ({@link WorkflowRunSerializer}): field by
 * field, no JSON and no reflection, so an event's progress is neither parsed nor printed when its
 * workflow state is read or written.
 *
 * <p>Format version 1: the number of completed stages; per stage its name, output JSON text (null if
 * none), {@code outputOmittedBytes} (-1 if not left out), attempts, completedAt and idempotency key
 * (null if none), strings in {@link StringValue} form; then the pending stage (null if none), its
 * attempts and key generation. Guarantee: {@code deserialize(serialize(p))} equals {@code p}.
 *
 * <p>Compatibility plan: a later format bumps {@link ProgressSerializerSnapshot#VERSION}, keeps the
 * reader of every earlier version ({@code restoreSerializer} of the old snapshot) and answers
 * {@code compatibleAfterMigration} for them, so state written in an earlier format is rewritten on
 * restore; the snapshot's default branch refuses versions it does not know.
 */
@Internal
public final class ProgressSerializer extends TypeSerializerSingleton<Progress> {
    private static final long serialVersionUID = 1L;

    public static final ProgressSerializer INSTANCE = new ProgressSerializer();

    private ProgressSerializer() {}

    @Override
    public boolean isImmutableType() {
        return false;
    }

    @Override
    public Progress createInstance() {
        return Progress.empty();
    }

    @Override
    public Progress copy(Progress from) {
        return from.copy();
    }

    @Override
    public Progress copy(Progress from, Progress reuse) {
        return from.copy();
    }

    @Override
    public int getLength() {
        return -1;
    }

    @Override
    public void serialize(Progress progress, DataOutputView target) throws IOException {
        List<Progress.StageRecord> records = progress.records();
        target.writeInt(records.size());
        for (Progress.StageRecord record : records) {
            StringValue.writeString(record.name, target);
            StringValue.writeString(record.outputJson, target);
            target.writeInt(record.outputOmittedBytes);
            target.writeInt(record.attempts);
            target.writeLong(record.completedAt);
            StringValue.writeString(record.key, target);
        }
        StringValue.writeString(progress.pendingStage(), target);
        target.writeInt(progress.pendingAttempts());
        target.writeInt(progress.pendingKeyGeneration());
    }

    @Override
    public Progress deserialize(DataInputView source) throws IOException {
        int count = source.readInt();
        List<Progress.StageRecord> records = count == 0 ? Collections.emptyList() : new ArrayList<>(Math.max(count, 4));
        for (int i = 0; i < count; i++) {
            String name = StringValue.readString(source);
            String output = StringValue.readString(source);
            int omitted = source.readInt();
            int attempts = source.readInt();
            long completedAt = source.readLong();
            String key = StringValue.readString(source);
            records.add(new Progress.StageRecord(name, output, null, omitted, attempts, completedAt, key));
        }
        String pending = StringValue.readString(source);
        return Progress.of(records, pending, source.readInt(), source.readInt());
    }

    @Override
    public Progress deserialize(Progress reuse, DataInputView source) throws IOException {
        return deserialize(source);
    }

    @Override
    public void copy(DataInputView source, DataOutputView target) throws IOException {
        serialize(deserialize(source), target);
    }

    @Override
    public TypeSerializerSnapshot<Progress> snapshotConfiguration() {
        return new ProgressSerializerSnapshot();
    }

    /** Snapshot of {@link ProgressSerializer}: the format version, nothing else. */
    public static final class ProgressSerializerSnapshot implements TypeSerializerSnapshot<Progress> {
        static final int VERSION = 1;

        private int readVersion = VERSION;

        public ProgressSerializerSnapshot() {}

        @Override
        public int getCurrentVersion() {
            return VERSION;
        }

        @Override
        public void writeSnapshot(DataOutputView out) {
            // The version is written by Flink; the format has no parameters.
        }

        @Override
        public void readSnapshot(int readVersion, DataInputView in, ClassLoader userCodeClassLoader) {
            this.readVersion = readVersion;
        }

        @Override
        public TypeSerializer<Progress> restoreSerializer() {
            switch (readVersion) {
                case 1:
                    return INSTANCE;
                default:
                    throw new IllegalStateException("progress state format version " + readVersion
                            + " is unknown to this version of Stagewise (it reads 1 to " + VERSION + ")");
            }
        }

        @Override
        public TypeSerializerSchemaCompatibility<Progress> resolveSchemaCompatibility(
                TypeSerializerSnapshot<Progress> oldSerializerSnapshot) {
            if (!(oldSerializerSnapshot instanceof ProgressSerializerSnapshot old)) {
                return TypeSerializerSchemaCompatibility.incompatible();
            }
            return old.readVersion == VERSION ? TypeSerializerSchemaCompatibility.compatibleAsIs()
                    : TypeSerializerSchemaCompatibility.compatibleAfterMigration();
        }
    }
}
