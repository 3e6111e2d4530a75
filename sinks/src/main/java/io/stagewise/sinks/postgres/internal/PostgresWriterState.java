package io.stagewise.sinks.postgres.internal;

import org.apache.flink.annotation.Internal;
import java.util.List;
import java.util.Objects;

/**
 * Writer state of one subtask at a checkpoint: which job runs (lineages) its sink transactions
 * belong to, and the rows it received but has not yet put into a prepared transaction (non-empty
 * only when a checkpoint's write was deferred, see the lock trap in {@link PostgresWriter}).
 *
 * <p>Every subtask snapshots exactly one entry, rows or not, so the lineages survive a restore
 * (Flink hands the entries back round-robin, the first ones to subtask 0). {@link #origin()}
 * names the entry for good: the restored writer applies its rows under the marker
 * {@code <prefix>-<origin>-c}, at most once whatever subtask the entry lands on.
 *
 * @param <T> the row type
 */
@Internal
public final class PostgresWriterState<T> {
    private final List<String> lineages;
    private final int subtask;
    private final long checkpointId;
    private final String legacyDigest;
    private final List<T> bufferedRows;

    /**
     * @param lineages the lineages whose prepared transactions the writer may own, its own first
     * @param subtask the subtask that wrote the entry
     * @param checkpointId the checkpoint the entry belongs to
     */
    public PostgresWriterState(List<String> lineages, int subtask, long checkpointId, List<T> bufferedRows) {
        if (lineages.isEmpty() || !Gids.isLineage(lineages.get(0))) {
            throw new IllegalArgumentException("writer state needs its lineage first, got " + lineages);
        }
        this.lineages = List.copyOf(lineages);
        this.subtask = subtask;
        this.checkpointId = checkpointId;
        this.legacyDigest = null;
        this.bufferedRows = List.copyOf(bufferedRows);
    }

    private PostgresWriterState(String legacyDigest, List<T> bufferedRows) {
        this.lineages = List.of();
        this.subtask = -1;
        this.checkpointId = -1;
        this.legacyDigest = legacyDigest;
        this.bufferedRows = List.copyOf(bufferedRows);
    }

    /** An entry of version 1 state, which knew no lineage; named by a digest of its bytes. */
    static <T> PostgresWriterState<T> legacy(String digest, List<T> bufferedRows) {
        return new PostgresWriterState<>(digest, bufferedRows);
    }

    /** Empty for version 1 state. */
    public List<String> lineages() {
        return lineages;
    }

    public boolean isLegacy() {
        return legacyDigest != null;
    }

    public int subtask() {
        return subtask;
    }

    public long checkpointId() {
        return checkpointId;
    }

    /** A name of this entry that no other entry has: {@code <lineage>-<subtask>-<checkpoint>}, or {@code v1-<digest>}. */
    public String origin() {
        return isLegacy() ? "v1-" + legacyDigest : lineages.get(0) + '-' + subtask + '-' + checkpointId;
    }

    public List<T> bufferedRows() {
        return bufferedRows;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PostgresWriterState<?> other && lineages.equals(other.lineages) && subtask == other.subtask
                && checkpointId == other.checkpointId && Objects.equals(legacyDigest, other.legacyDigest)
                && bufferedRows.equals(other.bufferedRows);
    }

    @Override
    public int hashCode() {
        return Objects.hash(lineages, subtask, checkpointId, legacyDigest, bufferedRows);
    }

    @Override
    public String toString() {
        return "PostgresWriterState{origin=" + origin() + ", lineages=" + lineages + ", bufferedRows=" + bufferedRows.size() + '}';
    }
}
