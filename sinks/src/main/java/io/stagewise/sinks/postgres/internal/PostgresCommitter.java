package io.stagewise.sinks.postgres.internal;

import org.apache.flink.annotation.Internal;
import java.io.IOException;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Collection;
import org.apache.flink.api.connector.sink2.Committer;
import org.apache.flink.api.connector.sink2.CommitterInitContext;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.MetricGroup;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The committer half of the PostgreSQL two-phase-commit sink: {@code COMMIT PREPARED} for every
 * transaction of a completed checkpoint, idempotently.
 *
 * <p>Protocol, committer side (writer side in {@link PostgresWriter}):
 * <ol>
 *   <li>(2a) {@code COMMIT PREPARED '<gid>'} when Flink reports the checkpoint complete, from any
 *       connection (a prepared transaction is not tied to the session that prepared it).
 *   <li>(2b) The gid is not prepared any more: the commit marker row, written inside the very
 *       transaction, decides. Present: an earlier attempt committed it (its reply was lost, or the
 *       job failed before every subtask heard of the checkpoint) - success. Absent: the
 *       transaction was rolled back by someone else and its rows are lost - fail loudly, naming the
 *       gid. Absence of the prepared transaction alone is never taken for success.
 *   <li>(2c) Connection loss, server restart, overload, a full disk, out of memory, a statement
 *       cancelled by {@code statement_timeout}: retry later on a new connection, after a pause that
 *       doubles from 100 ms to at most 5 s. Flink retries {@code sink.committer.retries} times,
 *       then fails over; the restored job commits the same committables again (3), so a longer
 *       outage costs restarts, not data.
 *   <li>(2d) Any other error (e.g. permission denied on COMMIT PREPARED): while the transaction is
 *       still prepared, its rows exist only there, so the committable is never dropped (a "known
 *       failure" would make Flink forget it): logged as an ERROR naming the gid and the cause,
 *       retried with the same backoff, and after {@code sink.committer.retries} the job fails
 *       over and tries again, until the cause is fixed or an operator commits the gid by hand.
 *       If it is no longer prepared, the marker decides as in (2b).
 *   <li>(3) On restore Flink hands back the committables of completed checkpoints from its state,
 *       and this class commits them before the writer writes anything.
 * </ol>
 */
@Internal
public final class PostgresCommitter implements Committer<PostgresCommittable> {
    private static final Logger LOG = LoggerFactory.getLogger(PostgresCommitter.class);

    /** First pause before a commit is retried; doubles per retry up to {@link #MAX_COMMIT_BACKOFF}. */
    static final Duration INITIAL_COMMIT_BACKOFF = Duration.ofMillis(100);
    static final Duration MAX_COMMIT_BACKOFF = Duration.ofSeconds(5);

    /** The pause before retry number {@code retries} (0: the first attempt, no pause). */
    static Duration backoff(int retries) {
        if (retries <= 0) {
            return Duration.ZERO;
        }
        int doublings = Math.min(retries - 1, 16);
        Duration pause = INITIAL_COMMIT_BACKOFF.multipliedBy(1L << doublings);
        return pause.compareTo(MAX_COMMIT_BACKOFF) > 0 ? MAX_COMMIT_BACKOFF : pause;
    }

    private final PostgresSinkSettings settings;
    private final int subtask;
    private final int attempt;
    private final Counter committed;
    private final Counter alreadyCommitted;
    private final Counter lost;
    private final Counter retries;
    private final Session session;

    public PostgresCommitter(PostgresSinkSettings settings, CommitterInitContext context) throws IOException {
        this.settings = settings;
        this.subtask = context.getTaskInfo().getIndexOfThisSubtask();
        this.session = new Session(settings, "committer", subtask);
        this.attempt = context.getTaskInfo().getAttemptNumber();
        MetricGroup metrics = context.metricGroup().addGroup("stagewise").addGroup("postgres");
        this.committed = metrics.counter("transactionsCommitted");
        this.alreadyCommitted = metrics.counter("transactionsAlreadyCommitted");
        this.lost = metrics.counter("transactionsLost");
        this.retries = metrics.counter("commitRetries");
        try {
            Connection connection = session.get();
            Postgres.checkPreparedTransactions(connection,
                    context.getTaskInfo().getNumberOfParallelSubtasks(), settings.transactionIdPrefix());
            // The marker table must exist for (2b), even before any writer of this job has run.
            Postgres.createSchema(connection, c -> { });
        } catch (SQLException e) {
            session.drop();
            throw new IOException("PostgresSink '" + settings.transactionIdPrefix() + "' committer " + subtask
                    + " could not start against " + Postgres.redact(settings.jdbcUrl()) + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void commit(Collection<CommitRequest<PostgresCommittable>> requests) throws IOException {
        for (CommitRequest<PostgresCommittable> request : requests) {
            commit(request);
        }
    }

    private void commit(CommitRequest<PostgresCommittable> request) throws IOException {
        PostgresCommittable c = request.getCommittable();
        pause(request, c);
        FaultInjection.at(FaultInjection.Point.BEFORE_COMMIT, settings.transactionIdPrefix(), subtask, c.checkpointId(), attempt);
        try {
            Connection conn = session.get();
            try {
                // (2a)
                Postgres.executeWithGid(conn, "COMMIT PREPARED", c.gid());
                committed.inc();
                LOG.debug("PostgresSink '{}': committed {} ({} rows, checkpoint {})",
                        settings.transactionIdPrefix(), c.gid(), c.rowCount(), c.checkpointId());
            } catch (SQLException e) {
                if (!Postgres.hasState(e, Postgres.UNDEFINED_OBJECT)) {
                    throw e;
                }
                // (2b) Not prepared any more: the marker decides, never the absence alone.
                if (Postgres.markerExists(conn, c.gid())) {
                    alreadyCommitted.inc();
                    LOG.info("PostgresSink '{}': transaction {} (checkpoint {}) was already committed",
                            settings.transactionIdPrefix(), c.gid(), c.checkpointId());
                    request.signalAlreadyCommitted();
                    return;
                }
                lost(request, c);
                return;
            }
        } catch (SQLException e) {
            if (Postgres.isTransient(e)) {
                // (2c)
                session.drop();
                retries.inc();
                LOG.warn("PostgresSink '{}': COMMIT PREPARED {} (checkpoint {}) failed on the connection, retry {}: {}",
                        settings.transactionIdPrefix(), c.gid(), c.checkpointId(), request.getNumberOfRetries() + 1,
                        e.getMessage());
                request.retryLater();
                return;
            }
            // (2d)
            stillFailing(request, c, e);
            return;
        }
        FaultInjection.at(FaultInjection.Point.AFTER_COMMIT, settings.transactionIdPrefix(), subtask, c.checkpointId(), attempt);
    }

    /** Flink retries a commit at once; the pause keeps a struggling server from a retry storm. */
    private void pause(CommitRequest<PostgresCommittable> request, PostgresCommittable c) throws IOException {
        Duration pause = backoff(request.getNumberOfRetries());
        if (pause.isZero()) {
            return;
        }
        try {
            Thread.sleep(pause.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted before retrying COMMIT PREPARED " + c.gid(), e);
        }
    }

    /** (2d) A non-transient failure: retried while the transaction is prepared, never dropped. */
    private void stillFailing(CommitRequest<PostgresCommittable> request, PostgresCommittable c, SQLException cause)
            throws IOException {
        boolean prepared;
        boolean marker;
        try {
            Connection conn = session.get();
            prepared = Postgres.isPrepared(conn, c.gid());
            marker = !prepared && Postgres.markerExists(conn, c.gid());
        } catch (SQLException e) {
            session.drop();
            prepared = true; // cannot tell: keep it, which is never wrong
            marker = false;
        }
        if (prepared) {
            retries.inc();
            LOG.error("PostgresSink '{}': COMMIT PREPARED {} (checkpoint {}, {} rows) failed: {} (SQL state {}). The "
                            + "transaction stays prepared and is retried (retry {}); after sink.committer.retries the job "
                            + "fails over and tries again. Fix the cause, or run COMMIT PREPARED '{}' by hand",
                    settings.transactionIdPrefix(), c.gid(), c.checkpointId(), c.rowCount(), cause.getMessage(),
                    cause.getSQLState(), request.getNumberOfRetries() + 1, c.gid());
            request.retryLater();
        } else if (marker) {
            alreadyCommitted.inc();
            LOG.info("PostgresSink '{}': transaction {} (checkpoint {}) was committed meanwhile",
                    settings.transactionIdPrefix(), c.gid(), c.checkpointId());
            request.signalAlreadyCommitted();
        } else {
            lost(request, c);
        }
    }

    private void lost(CommitRequest<PostgresCommittable> request, PostgresCommittable c) {
        lost.inc();
        String message = "PostgresSink '" + settings.transactionIdPrefix() + "': transaction " + c.gid()
                + " of checkpoint " + c.checkpointId() + " (subtask " + c.subtask() + ", " + c.rowCount()
                + " rows) is neither prepared nor committed (no row in " + Postgres.MARKER_TABLE
                + "): someone rolled it back and its rows are lost. Reconcile the target against the source.";
        LOG.error(message);
        if (settings.failOnLostTransaction()) {
            // The job stops here; restoring would meet the same committable again. After
            // reconciling, restart with setFailOnLostTransaction(false) to get past it.
            request.signalFailedWithUnknownReason(new LostTransactionException(message
                    + " The job fails on purpose (failOnLostTransaction = true)."));
        } else {
            request.signalFailedWithKnownReason(new LostTransactionException(message));
        }
    }

    @Override
    public void close() {
        session.drop();
    }

    /** A prepared transaction that disappeared without being committed. */
    public static final class LostTransactionException extends IllegalStateException {
        private static final long serialVersionUID = 1L;

        public LostTransactionException(String message) {
            super(message);
        }
    }
}
