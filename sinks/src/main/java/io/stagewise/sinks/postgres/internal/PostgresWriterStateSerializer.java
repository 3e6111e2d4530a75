package io.stagewise.sinks.postgres.internal;

import org.apache.flink.annotation.Internal;
import java.io.IOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;

/**
 * Versioned format of {@link PostgresWriterState}.
 *
 * <ul>
 *   <li>Version 2 (written): the lineage count (int) and lineages (modified UTF-8), the subtask
 *       (int), the checkpoint id (long), then the rows as in version 1.
 *   <li>Version 1 (read only): the row serializer's version (int), the row count (int), then per
 *       row its length (int) and bytes.
 * </ul>
 *
 * <p>Savepoint compatibility: state of version 1 (before lineages) restores. Its entries become
 * {@linkplain PostgresWriterState#isLegacy() legacy} entries named by a SHA-256 digest of their
 * bytes (the same on every restore of that state), and the restored writer treats gids without a
 * lineage as its predecessor's; its own new gids carry the lineage of the new run. The row version
 * is stored once per entry, so a row format change is read back with the row serializer's own
 * {@code deserialize(version, ..)}.
 *
 * @param <T> the row type
 */
@Internal
public final class PostgresWriterStateSerializer<T> implements SimpleVersionedSerializer<PostgresWriterState<T>> {
    public static final int VERSION = 2;

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
        if (state.isLegacy()) {
            throw new IOException("a version 1 writer state entry (" + state.origin() + ") is never written again");
        }
        DataOutputSerializer out = new DataOutputSerializer(256);
        out.writeInt(state.lineages().size());
        for (String lineage : state.lineages()) {
            out.writeUTF(lineage);
        }
        out.writeInt(state.subtask());
        out.writeLong(state.checkpointId());
        writeRows(out, state.bufferedRows());
        return out.getCopyOfBuffer();
    }

    private void writeRows(DataOutputSerializer out, List<T> rows) throws IOException {
        out.writeInt(rowSerializer.getVersion());
        out.writeInt(rows.size());
        for (T row : rows) {
            byte[] bytes = rowSerializer.serialize(row);
            out.writeInt(bytes.length);
            out.write(bytes);
        }
    }

    @Override
    public PostgresWriterState<T> deserialize(int version, byte[] serialized) throws IOException {
        switch (version) {
            case 1:
                return deserializeV1(serialized);
            case 2:
                return deserializeV2(serialized);
            default:
                throw new IOException("unknown PostgresWriterState serialization version " + version
                        + " (this build reads up to " + VERSION + "); was the state written by a newer Stagewise?");
        }
    }

    private PostgresWriterState<T> deserializeV1(byte[] serialized) throws IOException {
        List<T> rows = readRows(new DataInputDeserializer(serialized));
        return PostgresWriterState.legacy(digest(serialized), rows);
    }

    private PostgresWriterState<T> deserializeV2(byte[] serialized) throws IOException {
        DataInputDeserializer in = new DataInputDeserializer(serialized);
        int count = in.readInt();
        List<String> lineages = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            lineages.add(in.readUTF());
        }
        int subtask = in.readInt();
        long checkpointId = in.readLong();
        return new PostgresWriterState<>(lineages, subtask, checkpointId, readRows(in));
    }

    private List<T> readRows(DataInputDeserializer in) throws IOException {
        int rowVersion = in.readInt();
        int count = in.readInt();
        List<T> rows = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            byte[] bytes = new byte[in.readInt()];
            in.readFully(bytes);
            rows.add(rowSerializer.deserialize(rowVersion, bytes));
        }
        return rows;
    }

    private static String digest(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes), 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every Java runtime", e);
        }
    }
}
