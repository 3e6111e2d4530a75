package io.stagewise.sinks.postgres.internal;

import org.apache.flink.annotation.Internal;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;

/**
 * Versioned format of {@link PostgresWriterState}. Version 1: the row serializer's version (int),
 * the row count (int), then per row its length (int) and bytes. The row version is stored once, so
 * a row format change is read back with the row serializer's own {@code deserialize(version, ..)}.
 *
 * @param <T> the row type
 */
@Internal
public final class PostgresWriterStateSerializer<T> implements SimpleVersionedSerializer<PostgresWriterState<T>> {
    public static final int VERSION = 1;

    private final SimpleVersionedSerializer<T> rowSerializer;

    public PostgresWriterStateSerializer(SimpleVersionedSerializer<T> rowSerializer) {
        this.rowSerializer = rowSerializer;
    }

    @Override
    public int getVersion() {
        return VERSION;
    }

    @Override
    public byte[] serialize(PostgresWriterState<T> state) throws IOException {
        DataOutputSerializer out = new DataOutputSerializer(256);
        out.writeInt(rowSerializer.getVersion());
        out.writeInt(state.bufferedRows().size());
        for (T row : state.bufferedRows()) {
            byte[] bytes = rowSerializer.serialize(row);
            out.writeInt(bytes.length);
            out.write(bytes);
        }
        return out.getCopyOfBuffer();
    }

    @Override
    public PostgresWriterState<T> deserialize(int version, byte[] serialized) throws IOException {
        switch (version) {
            case 1:
                return deserializeV1(serialized);
            default:
                throw new IOException("unknown PostgresWriterState serialization version " + version
                        + " (this build reads up to " + VERSION + "); was the state written by a newer Stagewise?");
        }
    }

    private PostgresWriterState<T> deserializeV1(byte[] serialized) throws IOException {
        DataInputDeserializer in = new DataInputDeserializer(serialized);
        int rowVersion = in.readInt();
        int count = in.readInt();
        List<T> rows = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            byte[] bytes = new byte[in.readInt()];
            in.readFully(bytes);
            rows.add(rowSerializer.deserialize(rowVersion, bytes));
        }
        return new PostgresWriterState<>(rows);
    }
}
