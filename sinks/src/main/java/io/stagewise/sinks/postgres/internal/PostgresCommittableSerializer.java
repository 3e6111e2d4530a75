package io.stagewise.sinks.postgres.internal;

import org.apache.flink.annotation.Internal;
import java.io.IOException;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;

/**
 * Versioned format of {@link PostgresCommittable} in Flink's committer state. Version 2 (written):
 * gid and lineage (modified UTF-8), subtask (int), checkpoint id (long), row count (int). Version 1
 * (read only): the same without the lineage; such committables restore with lineage
 * {@link Gids#LEGACY}, and their gids (without a lineage) commit as before. A new field means a new
 * version; old versions stay readable.
 */
@Internal
public final class PostgresCommittableSerializer implements SimpleVersionedSerializer<PostgresCommittable> {
    public static final int VERSION = 2;

    @Override
    public int getVersion() {
        return VERSION;
    }

    @Override
    public byte[] serialize(PostgresCommittable committable) throws IOException {
        DataOutputSerializer out = new DataOutputSerializer(64);
        out.writeUTF(committable.gid());
        out.writeUTF(committable.lineage());
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
            case 2:
                return deserializeV2(serialized);
            default:
                throw new IOException("unknown PostgresCommittable serialization version " + version
                        + " (this build reads up to " + VERSION + "); was the state written by a newer Stagewise?");
        }
    }

    private static PostgresCommittable deserializeV1(byte[] serialized) throws IOException {
        DataInputDeserializer in = new DataInputDeserializer(serialized);
        return new PostgresCommittable(in.readUTF(), Gids.LEGACY, in.readInt(), in.readLong(), in.readInt());
    }

    private static PostgresCommittable deserializeV2(byte[] serialized) throws IOException {
        DataInputDeserializer in = new DataInputDeserializer(serialized);
        return new PostgresCommittable(in.readUTF(), in.readUTF(), in.readInt(), in.readLong(), in.readInt());
    }
}
