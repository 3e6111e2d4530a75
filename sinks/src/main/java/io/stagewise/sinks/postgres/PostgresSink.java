package io.stagewise.sinks.postgres;

import org.apache.flink.annotation.PublicEvolving;
import io.stagewise.sinks.postgres.internal.Postgres;
import io.stagewise.sinks.postgres.internal.PostgresCommittable;
import io.stagewise.sinks.postgres.internal.PostgresCommittableSerializer;
import io.stagewise.sinks.postgres.internal.PostgresCommitter;
import io.stagewise.sinks.postgres.internal.PostgresSinkSettings;
import io.stagewise.sinks.postgres.internal.PostgresWriter;
import io.stagewise.sinks.postgres.internal.PostgresWriterState;
import io.stagewise.sinks.postgres.internal.PostgresWriterStateSerializer;
import java.io.IOException;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import org.apache.flink.api.connector.sink2.Committer;
import org.apache.flink.api.connector.sink2.CommitterInitContext;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SupportsCommitter;
import org.apache.flink.api.connector.sink2.SupportsWriterState;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.core.io.SimpleVersionedSerializer;

/**
 * An exactly-once PostgreSQL sink: two-phase commit with {@code PREPARE TRANSACTION} / {@code
 * COMMIT PREPARED}, one transaction per subtask per checkpoint (Flink Sink V2).
 *
 * <p>Delivery guarantee: exactly once. The rows of a checkpoint are written in one transaction
 * that is prepared when the checkpoint's barrier passes and committed when the checkpoint
 * completes, so readers see each row once and a whole checkpoint's rows at once. It protects
 * against task failures before, during and after a checkpoint, lost commit notifications,
 * PostgreSQL restarts and killed connections (prepared transactions survive both), network
 * partitions and stuck statements (every session wait is bounded), restores from checkpoints or
 * savepoints at any parallelism (rows carried over in the state are applied first, once, see
 * {@link PostgresWriter} (3b)), and a fresh run next to an earlier one: gids carry the run's
 * lineage, and another run's prepared transactions are reported by gid and refused, never rolled
 * back or committed by guess. A commit marker row in the same transaction makes commits
 * idempotent and tells an already-committed transaction from a lost one. Readers never see rows
 * of a checkpoint that did not complete. It cannot protect against restoring an older checkpoint
 * or savepoint than the last committed one (the rows in between are written again, which only an
 * idempotent {@link RowWriter} absorbs, as the ledger's {@code ON CONFLICT} does), nor against
 * someone rolling back its prepared transactions (reported by gid).
 *
 * <p>Savepoint compatibility: operator uids are the caller's and unchanged; writer state
 * ({@link PostgresWriterStateSerializer}) and committables ({@link PostgresCommittableSerializer})
 * are at version 2 (with the lineage) and read version 1: a version 1 restore takes gids without a
 * lineage for its predecessor's and continues under a new lineage.
 *
 * <p>Requirements: PostgreSQL {@code max_prepared_transactions} of at least 2 x parallelism
 * (checked at start, see {@link #checkServer}); a transaction id prefix unique among all jobs
 * writing to the same server; rows of one key (e.g. account) on one subtask - key the stream by it
 * before the sink so concurrent transactions never update the same rows. See
 * {@link PostgresWriter} for the protocol and the lock trap.
 *
 * <pre>{@code
 * entries.keyBy(e -> e.account)
 *        .sinkTo(PostgresSink.<LedgerEntry>builder()
 *                .setJdbcUrl(url).setUsername(user).setPassword(password)
 *                .setTransactionIdPrefix("payments-ledger")
 *                .setRowWriter(new LedgerWriter())
 *                .setRowSerializer(new LedgerEntrySerializer())
 *                .build())
 *        .uid("stagewise-ledger-sink").name("Ledger (PostgreSQL, exactly once)");
 * }</pre>
 *
 * @param <T> the row type
 */
@PublicEvolving
public final class PostgresSink<T>
        implements Sink<T>, SupportsCommitter<PostgresCommittable>, SupportsWriterState<T, PostgresWriterState<T>> {
    private static final long serialVersionUID = 1L;

    /** Default {@code lock_timeout} of the sink's sessions. */
    public static final Duration DEFAULT_LOCK_TIMEOUT = Duration.ofSeconds(10);

    /** Default {@code statement_timeout} of the sink's sessions. */
    public static final Duration DEFAULT_STATEMENT_TIMEOUT = Duration.ofSeconds(60);

    /** Default driver {@code socketTimeout}: how long a read may wait when the network is gone. */
    public static final Duration DEFAULT_SOCKET_TIMEOUT = Duration.ofSeconds(90);

    /** Default number of rows that wait in memory before they are written early (see the writer's (5)). */
    public static final int DEFAULT_MAX_BUFFERED_ROWS = 5_000;

    /** Default limit of checkpoints in a row whose rows a subtask may carry over (see the lock trap). */
    public static final int DEFAULT_MAX_DEFERRED_CHECKPOINTS = 50;

    private final PostgresSinkSettings settings;
    private final RowWriter<T> rowWriter;
    private final SimpleVersionedSerializer<T> rowSerializer;

    PostgresSink(PostgresSinkSettings settings, RowWriter<T> rowWriter, SimpleVersionedSerializer<T> rowSerializer) {
        this.settings = settings;
        this.rowWriter = rowWriter;
        this.rowSerializer = rowSerializer;
    }

    public static <T> PostgresSinkBuilder<T> builder() {
        return new PostgresSinkBuilder<>();
    }

    /**
     * Checks, before a job is submitted, that the server at {@code jdbcUrl} can hold the prepared
     * transactions of a sink at {@code parallelism}: {@code max_prepared_transactions >= 2 x
     * parallelism}. Throws {@link IllegalStateException} naming the setting and how to change it.
     */
    /**
     * A plain connection to the sink's database for work outside the sink (audits, reconciliation,
     * bookkeeping tables), opened through the driver instance rather than {@code DriverManager}, so
     * it works on a session cluster's second submission too (sinks/README.md). Credentials travel
     * only in the driver properties.
     */
    public static Connection connect(String jdbcUrl, String username, String password, String applicationName)
            throws SQLException {
        return Postgres.open(jdbcUrl, username, password, applicationName);
    }

    public static void checkServer(String jdbcUrl, String username, String password, int parallelism) throws SQLException {
        if (parallelism < 1) {
            throw new IllegalArgumentException("parallelism must be >= 1, got " + parallelism);
        }
        try (Connection connection = Postgres.connect(jdbcUrl, username, password, "stagewise-sink:check",
                new Postgres.Timeouts(DEFAULT_LOCK_TIMEOUT, DEFAULT_STATEMENT_TIMEOUT, DEFAULT_SOCKET_TIMEOUT))) {
            Postgres.checkPreparedTransactions(connection, parallelism, "check");
        }
    }

    @Override
    public PostgresWriter<T> createWriter(WriterInitContext context) throws IOException {
        return new PostgresWriter<>(settings, rowWriter, context, List.of());
    }

    @Override
    public PostgresWriter<T> restoreWriter(WriterInitContext context,
            Collection<PostgresWriterState<T>> recoveredState) throws IOException {
        return new PostgresWriter<>(settings, rowWriter, context, recoveredState);
    }

    @Override
    public SimpleVersionedSerializer<PostgresWriterState<T>> getWriterStateSerializer() {
        return new PostgresWriterStateSerializer<>(rowSerializer);
    }

    @Override
    public Committer<PostgresCommittable> createCommitter(CommitterInitContext context) throws IOException {
        return new PostgresCommitter(settings, context);
    }

    @Override
    public SimpleVersionedSerializer<PostgresCommittable> getCommittableSerializer() {
        return new PostgresCommittableSerializer();
    }

    /** The transaction id prefix; gids are {@code <prefix>-<lineage>-<subtask>-<checkpoint id>}. */
    public String transactionIdPrefix() {
        return settings.transactionIdPrefix();
    }

    @Override
    public String toString() {
        return "PostgresSink{" + settings + ", rowWriter=" + rowWriter.getClass().getName() + '}';
    }
}
