package io.stagewise.sinks.postgres.internal;

import org.apache.flink.annotation.Internal;
import java.util.Objects;

/**
 * One prepared PostgreSQL transaction waiting for its checkpoint to complete: the global
 * transaction id (gid) to {@code COMMIT PREPARED}, and where it came from: the job run (lineage,
 * {@link Gids#LEGACY} for committables of versions before lineages), subtask and checkpoint (for
 * logs and for the commit-marker check).
 */
@Internal
public final class PostgresCommittable {
    private final String gid;
    private final String lineage;
    private final int subtask;
    private final long checkpointId;
    private final int rowCount;

    public PostgresCommittable(String gid, String lineage, int subtask, long checkpointId, int rowCount) {
        this.gid = Objects.requireNonNull(gid, "gid");
        this.lineage = Objects.requireNonNull(lineage, "lineage");
        this.subtask = subtask;
        this.checkpointId = checkpointId;
        this.rowCount = rowCount;
    }

    public String gid() {
        return gid;
    }

    public String lineage() {
        return lineage;
    }

    public int subtask() {
        return subtask;
    }

    public long checkpointId() {
        return checkpointId;
    }

    public int rowCount() {
        return rowCount;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PostgresCommittable other
                && gid.equals(other.gid)
                && lineage.equals(other.lineage)
                && subtask == other.subtask
                && checkpointId == other.checkpointId
                && rowCount == other.rowCount;
    }

    @Override
    public int hashCode() {
        return Objects.hash(gid, lineage, subtask, checkpointId, rowCount);
    }

    @Override
    public String toString() {
        return "PostgresCommittable{gid=" + gid + ", lineage=" + lineage + ", subtask=" + subtask + ", checkpoint=" + checkpointId
                + ", rows=" + rowCount + '}';
    }
}
