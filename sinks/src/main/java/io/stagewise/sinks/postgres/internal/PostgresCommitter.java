package io.stagewise.sinks.postgres.internal;

import org.apache.flink.annotation.Internal;
import java.io.IOException;
import java.sql.Connection;
import java.sql.SQLException;
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
 *   <li>(2c) Connection loss, server restart or overload: retry later on a new connection. Flink
 *       retries {@code sink.committer.retries} times, then fails over; the restored job commits
 *       the same committables again (3), so a longer outage costs restarts, not data.
 *   <li>(2d) Any other error (e.g. permission denied on COMMIT PREPARED) will not heal by retrying:
 *       logged with the gid, reported as a known failure; the transaction stays prepared for an
 *       operator to commit by hand, and the writer refuses to write past it (see the lock trap).
 *   <li>(3) On restore Flink hands back the committables of completed checkpoints from its state,
 *       and this class commits them before the writer writes anything.
 * </ol>
 */
@Internal
public final class PostgresCommitter implements Committer<PostgresCommittable> {
    private static final Logger LOG = LoggerFactory.getLogger(PostgresCommitter.class);

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
            LOG.error("PostgresSink '{}': COMMIT PREPARED {} (checkpoint {}, {} rows) failed and will not be retried; "
                            + "the transaction stays prepared: run COMMIT PREPARED '{}' once the cause ({}) is fixed",
                    settings.transactionIdPrefix(), c.gid(), c.checkpointId(), c.rowCount(), c.gid(), e.getMessage(), e);
            request.signalFailedWithKnownReason(e);
            return;
        }
        FaultInjection.at(FaultInjection.Point.AFTER_COMMIT, settings.transactionIdPrefix(), subtask, c.checkpointId(), attempt);
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
