package io.stagewise.sinks.postgres;

import org.apache.flink.annotation.PublicEvolving;
import java.io.Serializable;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import org.apache.flink.metrics.MetricGroup;

/**
 * Writes one checkpoint's rows into PostgreSQL for a {@link PostgresSink}.
 *
 * <p>Delivery guarantee: whatever {@link #write} does inside the connection's transaction becomes
 * visible exactly once, because the sink prepares that transaction ({@code PREPARE TRANSACTION})
 * and commits it only when Flink's checkpoint completes (rows restored from writer state are
 * written in a transaction the sink commits at start under a marker row, once). It protects
 * against partial and duplicate writes across task failures, restores and PostgreSQL restarts, but
 * only for statements that stay inside the given transaction: an implementation must not commit,
 * roll back, change auto-commit, or open connections of its own. A writer that skips rows already
 * present (as the ledger does by primary key) also absorbs a restore from an older savepoint.
 *
 * @param <T> the row type
 */
@PublicEvolving
public interface RowWriter<T> extends Serializable {

    /**
     * Called once per writer start, before {@link #createSchema}, with the subtask's metric group
     * {@code stagewise}, where a writer registers what it counts (e.g. skipped rows).
     */
    default void open(MetricGroup metrics) {}

    /**
     * Creates the tables (and indexes) this writer needs when they are absent, e.g. with
     * {@code CREATE TABLE IF NOT EXISTS}. Called once per writer start, inside a transaction the
     * sink commits and serialises across subtasks (so concurrent subtasks cannot race on DDL).
     */
    void createSchema(Connection connection) throws SQLException;

    /**
     * Writes {@code rows} into the connection's open transaction. The sink may call it several
     * times for one transaction (rows written early, then the rest at the barrier) and adds its
     * commit marker and prepares the transaction afterwards. Throwing aborts the transaction; the
     * sink then fails the task and Flink restores from the last completed checkpoint. Should use
     * JDBC batches or one set-based statement.
     *
     * @param rows non-empty, in arrival order
     */
    void write(Connection connection, List<T> rows) throws SQLException;
}
