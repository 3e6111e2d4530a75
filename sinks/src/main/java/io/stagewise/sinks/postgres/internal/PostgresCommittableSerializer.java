package io.stagewise.sinks.postgres.internal;

import org.apache.flink.annotation.Internal;
import java.io.IOException;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;

/**
 * Versioned format of {@link PostgresCommittable} in Flink's committer state. Version 1: gid
 * (modified UTF-8), subtask (int), checkpoint id (long), row count (int). A new field means a new
 * version; old versions stay readable.
 */
@Internal
public final class PostgresCommittableSerializer implements SimpleVersionedSerializer<PostgresCommittable> {
    public static final int VERSION = 1;

    @Override
    public int getVersion() {
        return VERSION;
    }

    @Override
    public byte[] serialize(PostgresCommittable committable) throws IOException {
        DataOutputSerializer out = new DataOutputSerializer(64);
        out.writeUTF(committable.gid());
        out.writeInt(committable.subtask());
        out.writeLong(committable.checkpointId());
        out.writeInt(committable.rowCount());
        return out.getCopyOfBuffer();
    }

    @Override
    public PostgresCommittable deserialize(int version, byte[] serialized) throws IOException {
        switch (version) {
            case 1:
                return deserializeV1(serialized);
            default:
                throw new IOException("unknown PostgresCommittable serialization version " + version
                        + " (this build reads up to " + VERSION + "); was the state written by a newer Stagewise?");
        }
    }

    private static PostgresCommittable deserializeV1(byte[] serialized) throws IOException {
        DataInputDeserializer in = new DataInputDeserializer(serialized);
        return new PostgresCommittable(in.readUTF(), in.readInt(), in.readLong(), in.readInt());
    }
}
