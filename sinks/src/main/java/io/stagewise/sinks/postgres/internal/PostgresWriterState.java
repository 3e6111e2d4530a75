package io.stagewise.sinks.postgres.internal;

import org.apache.flink.annotation.Internal;
import java.util.List;
import java.util.Objects;

/**
 * Writer state of one subtask at a checkpoint: the rows it received but has not yet put into a
 * prepared transaction (non-empty only when a checkpoint's write was deferred, see the lock trap
 * in {@link PostgresWriter}).
 *
 * @param <T> the row type
 */
@Internal
public final class PostgresWriterState<T> {
    private final List<T> bufferedRows;

    public PostgresWriterState(List<T> bufferedRows) {
        this.bufferedRows = List.copyOf(bufferedRows);
    }

    public List<T> bufferedRows() {
        return bufferedRows;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PostgresWriterState<?> other && bufferedRows.equals(other.bufferedRows);
    }

    @Override
    public int hashCode() {
        return Objects.hash(bufferedRows);
    }

    @Override
    public String toString() {
        return "PostgresWriterState{bufferedRows=" + bufferedRows.size() + '}';
    }
}
