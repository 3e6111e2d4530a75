package io.stagewise.sinks.postgres.internal;

import org.apache.flink.annotation.Internal;
import java.io.IOException;
import java.io.Serializable;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;

/**
 * Adapts a Flink {@link TypeSerializer} to the versioned row format of the writer state. Version
 * 1 is the type serializer's own binary format; the adapter cannot see that format evolve (Flink's
 * serializer snapshots are not stored here), so a row type that changes shape needs a
 * hand-written versioned serializer instead, as {@code LedgerEntrySerializer} is.
 */
@Internal
public final class TypeSerializerRowSerializer<T> implements SimpleVersionedSerializer<T>, Serializable {
    private static final long serialVersionUID = 1L;
    public static final int VERSION = 1;

    private final TypeSerializer<T> serializer;

    public TypeSerializerRowSerializer(TypeSerializer<T> serializer) {
        this.serializer = serializer;
    }

    @Override
    public int getVersion() {
        return VERSION;
    }

    @Override
    public byte[] serialize(T row) throws IOException {
        DataOutputSerializer out = new DataOutputSerializer(128);
        serializer.serialize(row, out);
        return out.getCopyOfBuffer();
    }

    @Override
    public T deserialize(int version, byte[] serialized) throws IOException {
        switch (version) {
            case 1:
                return deserializeV1(serialized);
            default:
                throw new IOException("unknown row serialization version " + version + " for " + serializer);
        }
    }

    private T deserializeV1(byte[] serialized) throws IOException {
        return serializer.deserialize(new DataInputDeserializer(serialized));
    }
}
