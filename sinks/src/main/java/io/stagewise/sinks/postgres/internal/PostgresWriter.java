package io.stagewise.sinks.postgres.internal;

import org.apache.flink.annotation.Internal;
import io.stagewise.sinks.postgres.RowWriter;
import java.io.IOException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.LinkedHashSet;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.flink.annotation.VisibleForTesting;
import org.apache.flink.api.common.operators.MailboxExecutor;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.connector.sink2.CommittingSinkWriter;
import org.apache.flink.api.connector.sink2.InitContext;
import org.apache.flink.api.connector.sink2.StatefulSinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.MetricGroup;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The writer half of the PostgreSQL two-phase-commit sink: buffers rows between checkpoints and,
 * at each checkpoint, writes them in one transaction that it prepares ({@code PREPARE
 * TRANSACTION}); {@link PostgresCommitter} commits it once the checkpoint completes.
 *
 * <p>Protocol, writer side (the committer side is in {@link PostgresCommitter}):
 * <ol>
 *   <li>(1) Between checkpoints rows are only buffered; nothing touches PostgreSQL, so a failure
 *       before the checkpoint loses nothing that the source will not replay.
 *   <li>(1) At {@link #prepareCommit()} for checkpoint c the writer opens a transaction, inserts
 *       the commit marker row (gid, sink, subtask, checkpoint, lineage), writes the batch through
 *       the {@link RowWriter} and ends with {@code PREPARE TRANSACTION
 *       '<prefix>-<lineage>-<subtask>-<c>'}. The lineage names this job run (see {@link Gids}),
 *       so a fresh run never collides with an earlier run's marker rows.
 *   <li>(3) At start the writer rolls back this subtask's prepared transactions from checkpoints
 *       after the restored one (all of them on a start without state), of its own lineages only:
 *       this run's (earlier attempts) and the ones the restored state names. They belong to
 *       checkpoints that never completed, and their rows will come again from the source.
 *       Subtask 0 also does this for subtask indexes the job no longer has (after a downscale).
 *   <li>(3a) Subtask 0 reports prepared transactions of this sink's prefix and of any other
 *       lineage by gid and refuses to start: they belong to another run (killed, then started
 *       without restoring its state), and whether their checkpoint completed is unknown here, so
 *       neither a rollback (it could lose rows) nor a commit (it could apply rows of a checkpoint
 *       that never completed) is safe; they would also hold row locks this run waits on.
 *   <li>(3b) Rows restored from writer state (carried over by (4)) are applied at start, before
 *       any new row, in a transaction of their own committed at once under the marker
 *       {@code <prefix>-<origin>-c}. On a rescale Flink hands writer state out round-robin, so
 *       those rows can belong to accounts {@code keyBy} now routes to another subtask; applied
 *       later, inside a prepared transaction, they would hold that account's locks while the
 *       other subtask waits on them. Committed at start, they hold nothing once the job runs.
 *       They belong to a completed checkpoint, so applying them is due; the marker makes a
 *       second restore of the same state skip them.
 *   <li>(4) The lock trap. A prepared transaction keeps its row locks until COMMIT PREPARED, and
 *       the commit runs on this task's thread when the checkpoint-complete notification is
 *       processed, which Flink may do after the next barrier. Writing checkpoint c+1 while c is
 *       still prepared could wait on c's locks with the only thread that can release them. So the
 *       writer never writes while one of its own earlier transactions is still prepared: it
 *       keeps the rows buffered, carries them in writer state, and puts them into the next
 *       checkpoint's transaction (that is why the writer is stateful). Any other lock wait (a
 *       second subtask or a foreign session on the same rows) ends after {@code lock_timeout}
 *       with an error, i.e. a task failover, never a hang. At end of input there is no next
 *       checkpoint: the writer yields to the mailbox, where the pending notification is
 *       processed at top priority, for at most {@code lock_timeout}, then writes anyway.
 *   <li>(5) Early writes keep the buffer bounded. When {@code maxBufferedRows} rows wait and no
 *       transaction of this subtask is prepared (so no lock of ours is in the way), the writer
 *       opens the next checkpoint's transaction and writes them into it at once; later batches
 *       follow, and the barrier only adds the rest, the marker and the PREPARE. The rows are
 *       invisible until the commit, exactly as before. While an earlier transaction is still
 *       prepared, rows wait in memory (checked again every {@code maxBufferedRows} rows), which
 *       lasts until its commit notification, at most {@code maxDeferredCheckpoints} checkpoints.
 *       A connection lost while the transaction is open fails the task over (the early rows are
 *       gone with it, and come again from the source) instead of retrying the write.
 * </ol>
 */
@Internal
public final class PostgresWriter<T>
        implements CommittingSinkWriter<T, PostgresCommittable>, StatefulSinkWriter<T, PostgresWriterState<T>> {
    private static final Logger LOG = LoggerFactory.getLogger(PostgresWriter.class);

    /** Attempts at one checkpoint's transaction when the connection breaks (killed, server restart). */
    static final int MAX_WRITE_ATTEMPTS = 3;

    private static final String UNIQUE_VIOLATION = "23505";

    private final PostgresSinkSettings settings;
    private final RowWriter<T> rowWriter;
    private final Gids gids;
    /** This run's lineage: every gid this writer prepares carries it. */
    private final String lineage;
    /** Lineages whose prepared transactions this subtask may own: this run's first, then restored ones. */
    private final List<String> lineages;
    /** Gids without a lineage are the predecessor's (restored from version 1 state). */
    private final boolean legacyIsOwn;
    private final int subtask;
    private final int parallelism;
    private final int attempt;
    private final MailboxExecutor mailbox;
    private final TypeSerializer<T> copier;
    private final List<T> buffer = new ArrayList<>();

    private final Counter rowsPrepared;
    private final Counter transactionsPrepared;
    private final Counter deferredCheckpoints;
    private final Counter writeRetries;
    private final Counter carriedRowsApplied;
    private final Counter rowsWrittenEarly;

    private final Session session;
    private long lastCheckpointId;
    /** (5) The next checkpoint's transaction is open on the session and holds {@link #earlyRows} rows. */
    private boolean open;
    private int earlyRows;
    private int nextEarlyCheck;
    private boolean endOfInput;
    private int consecutiveDeferrals;

    public PostgresWriter(PostgresSinkSettings settings, RowWriter<T> rowWriter, WriterInitContext context,
            Collection<PostgresWriterState<T>> restored) throws IOException {
        this.settings = settings;
        this.rowWriter = rowWriter;
        this.gids = new Gids(settings.transactionIdPrefix());
        this.subtask = context.getTaskInfo().getIndexOfThisSubtask();
        this.session = new Session(settings, "writer", subtask);
        this.parallelism = context.getTaskInfo().getNumberOfParallelSubtasks();
        this.attempt = context.getTaskInfo().getAttemptNumber();
        this.mailbox = context.getMailboxExecutor();
        this.copier = context.isObjectReuseEnabled() ? context.createInputSerializer() : null;
        OptionalLong restoredCheckpoint = context.getRestoredCheckpointId();
        this.lastCheckpointId = restoredCheckpoint.orElse(InitContext.INITIAL_CHECKPOINT_ID - 1);
        this.lineage = Gids.lineageOf(context.getJobInfo().getJobId());
        Set<String> known = new LinkedHashSet<>();
        known.add(lineage);
        boolean anyCurrent = false;
        boolean anyLegacy = false;
        for (PostgresWriterState<T> state : restored) {
            known.addAll(state.lineages());
            anyLegacy |= state.isLegacy();
            anyCurrent |= !state.isLegacy();
        }
        // Every subtask snapshots one entry, and subtask 0 gets the first ones back: a restore
        // without any current entry here is a restore of state written before lineages.
        this.legacyIsOwn = restoredCheckpoint.isPresent() && (anyLegacy || !anyCurrent);
        MetricGroup metrics = context.metricGroup().addGroup("stagewise").addGroup("postgres");
        this.rowsPrepared = metrics.counter("rowsPrepared");
        this.transactionsPrepared = metrics.counter("transactionsPrepared");
        this.deferredCheckpoints = metrics.counter("deferredCheckpoints");
        this.writeRetries = metrics.counter("writeRetries");
        this.carriedRowsApplied = metrics.counter("carriedRowsApplied");
        this.rowsWrittenEarly = metrics.counter("rowsWrittenEarly");
        metrics.<Integer, Gauge<Integer>>gauge("bufferedRows", buffer::size);
        this.nextEarlyCheck = settings.maxBufferedRows();
        rowWriter.open(context.metricGroup().addGroup("stagewise"));

        int carried = 0;
        try {
            Connection connection = session.get();
            // (6) Before any data: a server without room for prepared transactions fails here, by name.
            Postgres.checkPreparedTransactions(connection, parallelism, gids.prefix());
            Postgres.createSchema(connection, rowWriter::createSchema);
            List<Gids.Parsed> stillPrepared = rollBackAbandoned(restoredCheckpoint, known);
            // Lineages with nothing prepared any more are done with; this run's stays first.
            Set<String> live = new LinkedHashSet<>();
            live.add(lineage);
            for (Gids.Parsed p : stillPrepared) {
                if (known.contains(p.lineage())) {
                    live.add(p.lineage());
                }
            }
            this.lineages = List.copyOf(live);
            for (PostgresWriterState<T> state : restored) {
                carried += applyCarriedRows(state);
            }
        } catch (SQLException e) {
            session.drop();
            throw new IOException("PostgresSink '" + gids.prefix() + "' subtask " + subtask + " could not start against "
                    + Postgres.redact(settings.jdbcUrl()) + ": " + e.getMessage(), e);
        } catch (IOException | RuntimeException e) {
            session.drop();
            throw e;
        }
        LOG.info("PostgresSink '{}' subtask {}/{} (attempt {}) started as lineage {} (also owns {}); restored checkpoint {}, "
                        + "{} carried-over rows applied before any new row",
                gids.prefix(), subtask, parallelism, attempt, lineage, lineages.subList(1, lineages.size()),
                restoredCheckpoint.isPresent() ? restoredCheckpoint.getAsLong() : "none", carried);
    }

    private boolean owns(String gidLineage) {
        return gidLineage.equals(Gids.LEGACY) ? legacyIsOwn : lineages.contains(gidLineage);
    }

    /**
     * (3) Rolls back what earlier attempts prepared for checkpoints that never completed; (3a)
     * subtask 0 refuses to start next to another run's prepared transactions. Returns what stays
     * prepared (for the committer).
     */
    private List<Gids.Parsed> rollBackAbandoned(OptionalLong restoredCheckpoint, Set<String> known) throws SQLException, IOException {
        List<Gids.Parsed> kept = new ArrayList<>();
        List<String> foreign = new ArrayList<>();
        for (Gids.Parsed prepared : Postgres.preparedGids(session.get(), gids)) {
            boolean ownLineage = prepared.lineage().equals(Gids.LEGACY) ? legacyIsOwn : known.contains(prepared.lineage());
            if (!ownLineage) {
                foreign.add(prepared.gid());
                kept.add(prepared);
                continue;
            }
            boolean mine = prepared.subtask() == subtask || (subtask == 0 && prepared.subtask() >= parallelism);
            // Checkpoint ids continue across restores, so "after the restored checkpoint" holds for the
            // predecessor's lineage as for this run's (earlier attempts).
            boolean afterRestoredCheckpoint = restoredCheckpoint.isEmpty()
                    || prepared.checkpointId() > restoredCheckpoint.getAsLong();
            if (mine && afterRestoredCheckpoint) {
                Postgres.executeWithGid(session.get(), "ROLLBACK PREPARED", prepared.gid());
                LOG.warn("PostgresSink '{}' subtask {}: rolled back prepared transaction {} (lineage {}) of checkpoint {}, "
                                + "which never completed (restored checkpoint: {}); its rows come again from the source",
                        gids.prefix(), subtask, prepared.gid(), prepared.lineage().isEmpty() ? "legacy" : prepared.lineage(),
                        prepared.checkpointId(), restoredCheckpoint.isPresent() ? restoredCheckpoint.getAsLong() : "none");
            } else {
                kept.add(prepared);
            }
        }
        if (subtask == 0 && !foreign.isEmpty()) {
            for (String gid : foreign) {
                LOG.error("PostgresSink '{}': prepared transaction {} belongs to another run of this sink (this run is "
                        + "lineage {}); left untouched, refusing to start", gids.prefix(), gid, lineage);
            }
            throw new IOException("PostgresSink '" + gids.prefix() + "': prepared transactions of another run of this sink "
                    + "are still open: " + String.join(", ", foreign) + " (this run is lineage " + lineage + (restoredCheckpoint.isPresent()
                    ? ", restored from checkpoint " + restoredCheckpoint.getAsLong() : ", started without state") + "). "
                    + "They were left by a run that stopped without committing them; whether their checkpoint completed is "
                    + "not known here, so this sink neither commits nor rolls them back, and they hold row locks this run "
                    + "would wait on. Restore that run from its latest checkpoint (--restore latest), which commits or "
                    + "rolls them back correctly; or decide by hand in the database: COMMIT PREPARED '<gid>' if the "
                    + "checkpoint completed (its source offsets were committed), else ROLLBACK PREPARED '<gid>'. "
                    + "Prefix: setTransactionIdPrefix; see pg_prepared_xacts.");
        }
        return kept;
    }

    /** (3b) Applies restored carried-over rows once, committed at once; returns how many were applied. */
    private int applyCarriedRows(PostgresWriterState<T> state) throws SQLException, IOException {
        if (state.bufferedRows().isEmpty()) {
            return 0;
        }
        String marker = gids.carriedGid(state.origin());
        Connection c = session.get();
        if (Postgres.markerExists(c, marker)) {
            LOG.info("PostgresSink '{}' subtask {}: carried-over rows {} ({} rows) were applied by an earlier restore",
                    gids.prefix(), subtask, marker, state.bufferedRows().size());
            return 0;
        }
        c.setAutoCommit(false);
        try {
            insertMarker(c, marker, state.isLegacy() ? Gids.LEGACY : state.lineages().get(0), state.subtask(),
                    state.checkpointId(), state.bufferedRows().size());
            rowWriter.write(c, state.bufferedRows());
            c.commit();
        } catch (SQLException | RuntimeException e) {
            Postgres.rollbackQuietly(c);
            if (e instanceof SQLException sql && Postgres.hasState(sql, Postgres.LOCK_NOT_AVAILABLE)) {
                throw new IOException("PostgresSink '" + gids.prefix() + "' subtask " + subtask + ": applying restored "
                        + "carried-over rows " + marker + " waited lock_timeout (" + settings.lockTimeout() + ") for a row "
                        + "lock (see pg_locks and pg_prepared_xacts); failing over: " + sql.getMessage(), sql);
            }
            throw e;
        } finally {
            c.setAutoCommit(true);
        }
        carriedRowsApplied.inc(state.bufferedRows().size());
        LOG.info("PostgresSink '{}' subtask {}: applied {} carried-over rows of {} (checkpoint {}) under {} before any new row",
                gids.prefix(), subtask, state.bufferedRows().size(), state.origin(), state.checkpointId(), marker);
        return state.bufferedRows().size();
    }

    @Override
    public void write(T row, Context context) throws IOException {
        buffer.add(copier == null ? row : copier.copy(row));
        if (buffer.size() >= nextEarlyCheck) {
            writeEarly();
        }
    }

    /** (5) Moves the buffer into the next checkpoint's open transaction, if no lock of ours is in the way. */
    private void writeEarly() throws IOException {
        long checkpointId = lastCheckpointId + 1;
        int rows = buffer.size();
        try {
            if (!open) {
                Optional<Gids.Parsed> pending = earlierPrepared(checkpointId);
                if (pending.isPresent()) {
                    nextEarlyCheck = rows + settings.maxBufferedRows();
                    LOG.debug("PostgresSink '{}' subtask {}: {} rows wait in memory while transaction {} is prepared",
                            gids.prefix(), subtask, rows, pending.get().gid());
                    return;
                }
                session.get().setAutoCommit(false);
                open = true;
            }
            rowWriter.write(session.get(), buffer);
        } catch (SQLException | RuntimeException e) {
            abandonOpenTransaction();
            throw new IOException("PostgresSink '" + gids.prefix() + "' subtask " + subtask + " checkpoint " + checkpointId
                    + ": writing " + rows + " rows early into the open transaction failed; failing over, the rows come "
                    + "again from the source (maxBufferedRows = " + settings.maxBufferedRows() + "): " + e.getMessage(), e);
        }
        earlyRows += rows;
        rowsWrittenEarly.inc(rows);
        buffer.clear();
        nextEarlyCheck = settings.maxBufferedRows();
    }

    private void abandonOpenTransaction() {
        if (open) {
            try {
                Postgres.rollbackQuietly(session.get());
            } catch (SQLException ignored) {
                // dropping the connection below aborts the transaction anyway
            }
        }
        open = false;
        earlyRows = 0;
        session.drop();
    }

    @Override
    public void flush(boolean endOfInput) {
        // (1) Nothing to flush: rows go to PostgreSQL only inside the checkpoint's transaction.
        this.endOfInput |= endOfInput;
    }

    @Override
    public Collection<PostgresCommittable> prepareCommit() throws IOException, InterruptedException {
        // Flink calls prepareCommit for checkpoint c before snapshotState(c) and does not pass c;
        // like the Kafka sink we take last snapshot + 1, which is c or (after checkpoints this
        // subtask never saw) lower, and always above every checkpoint this subtask has snapshotted.
        // That is all gids need: unique per subtask, and above the restored checkpoint exactly
        // when they belong to a checkpoint after it. At end of input Flink uses the same number.
        long checkpointId = lastCheckpointId + 1;
        if (buffer.isEmpty() && !open) {
            return List.of();
        }
        String gid = gids.gid(lineage, subtask, checkpointId);
        if (open) {
            // (5) Opened only while nothing of ours was prepared, and only this writer prepares
            // this subtask's transactions: the lock trap cannot be in the way.
            return prepared(gid, checkpointId, prepareOpen(gid, checkpointId));
        }
        try {
            // (4) The lock trap: never write while our own earlier transaction is still prepared.
            Optional<Gids.Parsed> pending = earlierPrepared(checkpointId);
            if (pending.isPresent() && endOfInput) {
                pending = awaitCommitAtEndOfInput(pending.get(), checkpointId);
            }
            if (pending.isPresent()) {
                return defer(pending.get(), checkpointId);
            }
        } catch (SQLException e) {
            session.drop();
            throw new IOException("PostgresSink '" + gids.prefix() + "' subtask " + subtask + " checkpoint " + checkpointId
                    + ": could not read pg_prepared_xacts: " + e.getMessage(), e);
        }
        int rows = buffer.size();
        prepare(gid, checkpointId);
        return prepared(gid, checkpointId, rows);
    }

    private Collection<PostgresCommittable> prepared(String gid, long checkpointId, int rows) throws IOException {
        consecutiveDeferrals = 0;
        // A crash here leaves gid prepared without Flink knowing it: (3) rolls it back on restart.
        FaultInjection.at(FaultInjection.Point.AFTER_PREPARE, gids.prefix(), subtask, checkpointId, attempt);
        buffer.clear();
        earlyRows = 0;
        nextEarlyCheck = settings.maxBufferedRows();
        rowsPrepared.inc(rows);
        transactionsPrepared.inc();
        LOG.debug("PostgresSink '{}' subtask {}: prepared {} with {} rows for checkpoint {}",
                gids.prefix(), subtask, gid, rows, checkpointId);
        return List.of(new PostgresCommittable(gid, lineage, subtask, checkpointId, rows));
    }

    private Optional<Gids.Parsed> earlierPrepared(long checkpointId) throws SQLException {
        List<Gids.Parsed> prepared;
        try {
            prepared = Postgres.preparedGids(session.get(), gids);
        } catch (SQLException e) {
            if (!Postgres.isTransient(e)) {
                throw e;
            }
            // The idle connection was killed or the server restarted since the last checkpoint: a
            // read-only query, so one more try on a new connection is harmless.
            session.drop();
            writeRetries.inc();
            prepared = Postgres.preparedGids(session.get(), gids);
        }
        // Another lineage's transaction of this subtask index is one the committer has yet to commit
        // after a restore: its locks are in the way as much as our own earlier one's.
        return prepared.stream()
                .filter(p -> p.subtask() == subtask && owns(p.lineage())
                        && (!p.lineage().equals(lineage) || p.checkpointId() < checkpointId))
                .findFirst();
    }

    private Collection<PostgresCommittable> defer(Gids.Parsed pending, long checkpointId) throws IOException {
        consecutiveDeferrals++;
        deferredCheckpoints.inc();
        if (consecutiveDeferrals > settings.maxDeferredCheckpoints()) {
            throw new IOException("PostgresSink '" + gids.prefix() + "' subtask " + subtask + ": transaction "
                    + pending.gid() + " (checkpoint " + pending.checkpointId() + ") has stayed prepared through "
                    + consecutiveDeferrals + " checkpoints (maxDeferredCheckpoints = " + settings.maxDeferredCheckpoints()
                    + "); nothing commits it. Check pg_prepared_xacts and the committer's log. Failing over.");
        }
        LOG.info("PostgresSink '{}' subtask {}: checkpoint {} defers {} rows to the next checkpoint, because "
                        + "transaction {} of checkpoint {} is still prepared (its commit notification is not processed yet)",
                gids.prefix(), subtask, checkpointId, buffer.size(), pending.gid(), pending.checkpointId());
        return List.of();
    }

    /**
     * (4) At end of input no later checkpoint can take the rows. Checkpoint-complete notifications
     * are mails of the highest priority, so yielding lets the committer commit the pending
     * transaction on this very thread. Bounded by lock_timeout; returns what is still pending.
     */
    private Optional<Gids.Parsed> awaitCommitAtEndOfInput(Gids.Parsed pending, long checkpointId)
            throws SQLException, InterruptedException {
        long deadline = System.nanoTime() + settings.lockTimeout().toNanos();
        Optional<Gids.Parsed> still = Optional.of(pending);
        while (still.isPresent() && System.nanoTime() < deadline) {
            if (!mailbox.tryYield()) {
                TimeUnit.MILLISECONDS.sleep(10);
            }
            still = earlierPrepared(checkpointId);
        }
        if (still.isPresent()) {
            LOG.warn("PostgresSink '{}' subtask {}: end of input while transaction {} is still prepared after {}; "
                            + "writing the final batch anyway (a lock wait on it ends after lock_timeout)",
                    gids.prefix(), subtask, still.get().gid(), settings.lockTimeout());
        }
        return Optional.empty();
    }

    /**
     * Writes marker + rows and prepares the transaction. A broken connection (killed backend,
     * server restart) is retried on a new one: the aborted attempt left nothing behind, unless the
     * PREPARE itself got through, which the deterministic gid lets us see in pg_prepared_xacts.
     */
    private void prepare(String gid, long checkpointId) throws IOException {
        for (int tryNo = 1; ; tryNo++) {
            String step = "connect";
            Connection c = null;
            try {
                c = session.get();
                c.setAutoCommit(false);
                step = "insert the commit marker";
                insertMarker(c, gid, lineage, subtask, checkpointId, buffer.size());
                step = "write rows";
                rowWriter.write(c, buffer);
                FaultInjection.at(FaultInjection.Point.BEFORE_PREPARE, gids.prefix(), subtask, checkpointId, attempt);
                step = "PREPARE TRANSACTION";
                Postgres.executeWithGid(c, "PREPARE TRANSACTION", gid);
                c.setAutoCommit(true);
                return;
            } catch (SQLException e) {
                if (c != null) {
                    Postgres.rollbackQuietly(c);
                }
                if (Postgres.isTransient(e) && tryNo < MAX_WRITE_ATTEMPTS) {
                    session.drop();
                    writeRetries.inc();
                    LOG.warn("PostgresSink '{}' subtask {}: connection failed during '{}' of {} (checkpoint {}), "
                                    + "attempt {}/{}: {}", gids.prefix(), subtask, step, gid, checkpointId, tryNo,
                            MAX_WRITE_ATTEMPTS, e.getMessage());
                    if (preparedDespiteError(gid)) {
                        return;
                    }
                    continue;
                }
                session.drop();
                throw new IOException(describe(e, step, gid, checkpointId), e);
            } catch (IOException | RuntimeException e) {
                if (c != null) {
                    Postgres.rollbackQuietly(c);
                }
                session.drop();
                throw e;
            }
        }
    }

    /** (5) Completes the open transaction: the rest of the buffer, the marker, PREPARE. One attempt. */
    private int prepareOpen(String gid, long checkpointId) throws IOException {
        int rows = earlyRows + buffer.size();
        String step = "insert the commit marker";
        try {
            Connection c = session.get();
            insertMarker(c, gid, lineage, subtask, checkpointId, rows);
            if (!buffer.isEmpty()) {
                step = "write rows";
                rowWriter.write(c, buffer);
            }
            FaultInjection.at(FaultInjection.Point.BEFORE_PREPARE, gids.prefix(), subtask, checkpointId, attempt);
            step = "PREPARE TRANSACTION";
            Postgres.executeWithGid(c, "PREPARE TRANSACTION", gid);
            c.setAutoCommit(true);
            open = false;
            return rows;
        } catch (SQLException e) {
            abandonOpenTransaction();
            if (Postgres.isTransient(e) && preparedDespiteError(gid)) {
                return rows;
            }
            throw new IOException(describe(e, step, gid, checkpointId) + " (the transaction held " + rows
                    + " rows, some written early; failing over, they come again from the source)", e);
        } catch (IOException | RuntimeException e) {
            abandonOpenTransaction();
            throw e;
        }
    }

    private boolean preparedDespiteError(String gid) {
        try {
            if (Postgres.isPrepared(session.get(), gid)) {
                LOG.info("PostgresSink '{}' subtask {}: {} was prepared before the connection broke", gids.prefix(), subtask, gid);
                return true;
            }
            return false;
        } catch (SQLException e) {
            // Still unreachable: the next attempt fails the same way and reports it.
            session.drop();
            return false;
        }
    }

    private String describe(SQLException e, String step, String gid, long checkpointId) {
        String where = "PostgresSink '" + gids.prefix() + "' subtask " + subtask + " checkpoint " + checkpointId
                + " transaction " + gid + ": " + step + " failed";
        if (Postgres.hasState(e, Postgres.LOCK_NOT_AVAILABLE)) {
            return where + " after waiting lock_timeout (" + settings.lockTimeout() + ") for a row lock held by another "
                    + "transaction (see pg_locks and pg_prepared_xacts); failing over instead of hanging: " + e.getMessage();
        }
        if (Postgres.hasState(e, UNIQUE_VIOLATION) && step.equals("insert the commit marker")) {
            return where + ": this transaction was already committed by an earlier attempt of this run (lineage "
                    + lineage + "). Was the job restored from an older checkpoint than the last one it committed, or "
                    + "does the cluster reuse job ids (the lineage comes from the job id)? " + e.getMessage();
        }
        return where + ": " + e.getMessage();
    }

    private void insertMarker(Connection c, String gid, String gidLineage, int gidSubtask, long checkpointId, int rows)
            throws SQLException {
        try (PreparedStatement st = c.prepareStatement("INSERT INTO " + Postgres.MARKER_TABLE
                + " (gid, sink, subtask, checkpoint_id, row_count, lineage) VALUES (?, ?, ?, ?, ?, ?)")) {
            st.setString(1, gid);
            st.setString(2, gids.prefix());
            st.setInt(3, gidSubtask);
            st.setLong(4, checkpointId);
            st.setInt(5, rows);
            st.setString(6, gidLineage.isEmpty() ? null : gidLineage);
            st.executeUpdate();
        }
    }

    @Override
    public List<PostgresWriterState<T>> snapshotState(long checkpointId) {
        lastCheckpointId = checkpointId;
        // Always one entry, so the lineages survive a restore; rows only when this checkpoint's
        // write was deferred (4).
        return List.of(new PostgresWriterState<>(lineages, subtask, checkpointId, buffer));
    }

    /** Rows waiting in memory (not yet in any transaction). */
    @VisibleForTesting
    public int bufferedRowCount() {
        return buffer.size();
    }

    @Override
    public void close() {
        // Prepared transactions stay: they belong to Flink's committables, or (3) ends them on
        // restart. An open one (5) ends with the connection; its rows come again from the source.
        open = false;
        session.drop();
    }
}
