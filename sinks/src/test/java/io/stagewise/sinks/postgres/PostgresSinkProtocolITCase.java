package io.stagewise.sinks.postgres;

import io.stagewise.sinks.postgres.fixture.Transfer;
import io.stagewise.sinks.postgres.fixture.TransferSerializer;
import io.stagewise.sinks.postgres.fixture.TransferWriter;
import io.stagewise.sinks.postgres.fixture.Transfers;
import io.stagewise.testkit.EmbeddedPostgres;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stagewise.sinks.postgres.internal.PostgresCommittable;
import io.stagewise.sinks.postgres.internal.PostgresCommitter;
import io.stagewise.sinks.postgres.internal.PostgresWriter;
import io.stagewise.sinks.postgres.internal.PostgresWriterState;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.JobInfo;
import org.apache.flink.api.common.JobInfoImpl;
import org.apache.flink.api.common.TaskInfo;
import org.apache.flink.api.common.TaskInfoImpl;
import org.apache.flink.api.common.operators.MailboxExecutor;
import org.apache.flink.api.common.operators.ProcessingTimeService;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.connector.sink2.Committer;
import org.apache.flink.api.connector.sink2.CommitterInitContext;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.metrics.groups.SinkCommitterMetricGroup;
import org.apache.flink.metrics.groups.SinkWriterMetricGroup;
import org.apache.flink.metrics.groups.UnregisteredMetricsGroup;
import org.apache.flink.runtime.metrics.groups.InternalSinkCommitterMetricGroup;
import org.apache.flink.util.UserCodeClassLoader;
import org.apache.flink.util.function.ThrowingRunnable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The sink's protocol cases driven by hand, step by step, against a real PostgreSQL: the exact
 * interleavings Flink allows but a MiniCluster run only hits by chance (a checkpoint's barrier
 * before the previous checkpoint's commit, a lost commit, a restore after a prepare).
 */
class PostgresSinkProtocolITCase {
    private static EmbeddedPostgres postgres;
    private String url;

    @BeforeAll
    static void startPostgres() {
        postgres = EmbeddedPostgres.startInTempDir(16);
    }

    @AfterAll
    static void stopPostgres() {
        postgres.close();
    }

    @BeforeEach
    void newDatabase() throws SQLException {
        url = postgres.newDatabase();
    }

    private PostgresSink<Transfer> sink(boolean failOnLost) {
        return PostgresSink.<Transfer>builder()
                .setJdbcUrl(url).setUsername("postgres").setPassword("")
                .setTransactionIdPrefix("proto")
                .setRowWriter(new TransferWriter())
                .setRowSerializer(new TransferSerializer())
                .setLockTimeout(java.time.Duration.ofSeconds(2))
                .setFailOnLostTransaction(failOnLost)
                .build();
    }

    private static Transfer entry(int i, String account, String amount) {
        return new Transfer("pay-" + i, account, new BigDecimal(amount));
    }

    @Test
    void nextCheckpointDefersWhileTheSubtasksPreviousTransactionIsStillPreparedThenCatchesUp() throws Exception {
        PostgresSink<Transfer> sink = sink(true);
        PostgresCommitter committer = (PostgresCommitter) sink.createCommitter(new CommitterContext(0, OptionalLong.empty()));
        try (PostgresWriter<Transfer> writer = sink.createWriter(new WriterContext(0, OptionalLong.empty()))) {
            writer.write(entry(1, "acct-1", "10.00"), null);
            writer.write(entry(2, "acct-1", "5.25"), null);
            Collection<PostgresCommittable> first = writer.prepareCommit();
            assertThat(first).singleElement().satisfies(c -> {
                assertThat(c.gid()).isEqualTo("proto-0-1");
                assertThat(c.rowCount()).isEqualTo(2);
            });
            assertThat(writer.snapshotState(1)).isEmpty();
            assertThat(prepared()).containsExactly("proto-0-1");

            // Checkpoint 2's barrier arrives before checkpoint 1's commit: the same account again.
            writer.write(entry(3, "acct-1", "1.00"), null);
            assertThat(writer.prepareCommit()).as("deferred, not blocked on proto-0-1's row lock").isEmpty();
            List<PostgresWriterState<Transfer>> state = writer.snapshotState(2);
            assertThat(state).singleElement().satisfies(s -> assertThat(s.bufferedRows()).containsExactly(entry(3, "acct-1", "1.00")));
            assertThat(prepared()).containsExactly("proto-0-1");

            Outcome commit1 = commit(committer, first);
            assertThat(commit1.state).isEqualTo("committed");

            writer.write(entry(4, "acct-1", "2.00"), null);
            Collection<PostgresCommittable> third = writer.prepareCommit();
            assertThat(third).singleElement().satisfies(c -> {
                assertThat(c.gid()).isEqualTo("proto-0-3");
                assertThat(c.rowCount()).as("carried-over row plus the new one").isEqualTo(2);
            });
            assertThat(writer.snapshotState(3)).isEmpty();
            assertThat(commit(committer, third).state).isEqualTo("committed");
        }
        committer.close();
        assertThat(prepared()).isEmpty();
        assertAudit(Map.of("acct-1", new BigDecimal("18.25")), 4);
    }

    @Test
    void commitIsIdempotentAndALostTransactionFailsLoudlyNamingItsGid() throws Exception {
        PostgresSink<Transfer> sink = sink(true);
        PostgresCommitter committer = (PostgresCommitter) sink.createCommitter(new CommitterContext(0, OptionalLong.empty()));
        Collection<PostgresCommittable> c1;
        Collection<PostgresCommittable> c2;
        try (PostgresWriter<Transfer> writer = sink.createWriter(new WriterContext(0, OptionalLong.empty()))) {
            writer.write(entry(1, "acct-1", "3.00"), null);
            c1 = writer.prepareCommit();
            writer.snapshotState(1);
            assertThat(commit(committer, c1).state).isEqualTo("committed");
            writer.write(entry(2, "acct-2", "4.00"), null);
            c2 = writer.prepareCommit();
            writer.snapshotState(2);
        }
        // (2b) Committed before (the reply was lost, or a restore hands it back): success by the marker.
        assertThat(commit(committer, c1).state).isEqualTo("already committed");

        // (2b) Someone rolled back checkpoint 2's transaction: no marker, so it is lost, not "done".
        try (Connection c = EmbeddedPostgres.connect(url); Statement st = c.createStatement()) {
            st.execute("ROLLBACK PREPARED 'proto-0-2'");
        }
        assertThatThrownBy(() -> commit(committer, c2))
                .isInstanceOf(IllegalStateException.class)
                .rootCause().hasMessageContaining("proto-0-2").hasMessageContaining("lost");
        committer.close();

        PostgresCommitter lenient = (PostgresCommitter) sink(false).createCommitter(new CommitterContext(0, OptionalLong.empty()));
        Outcome outcome = commit(lenient, c2);
        assertThat(outcome.state).isEqualTo("failed (known)");
        assertThat(outcome.error).hasMessageContaining("proto-0-2");
        lenient.close();
        assertAudit(Map.of("acct-1", new BigDecimal("3.00")), 1);
    }

    @Test
    void aKilledCommitterConnectionIsRetriedLater() throws Exception {
        PostgresSink<Transfer> sink = sink(true);
        PostgresCommitter committer = (PostgresCommitter) sink.createCommitter(new CommitterContext(0, OptionalLong.empty()));
        Collection<PostgresCommittable> c1;
        try (PostgresWriter<Transfer> writer = sink.createWriter(new WriterContext(0, OptionalLong.empty()))) {
            writer.write(entry(1, "acct-1", "3.00"), null);
            c1 = writer.prepareCommit();
        }
        try (Connection c = EmbeddedPostgres.connect(url); Statement st = c.createStatement()) {
            st.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'stagewise-sink:proto:committer:0'");
        }
        assertThat(commit(committer, c1).state).isEqualTo("retry later");
        assertThat(commit(committer, c1).state).isEqualTo("committed");
        committer.close();
        assertAudit(Map.of("acct-1", new BigDecimal("3.00")), 1);
    }

    @Test
    void restartRollsBackTransactionsAfterTheRestoredCheckpointAndKeepsTheOthersForTheCommitter() throws Exception {
        PostgresSink<Transfer> sink = sink(true);
        Collection<PostgresCommittable> c1;
        PostgresSink<Transfer> otherSink = PostgresSink.<Transfer>builder()
                .setJdbcUrl(url).setUsername("postgres").setTransactionIdPrefix("proto-0")
                .setRowWriter(new TransferWriter()).setRowSerializer(new TransferSerializer()).build();
        try (PostgresWriter<Transfer> writer = sink.createWriter(new WriterContext(0, OptionalLong.empty()));
                PostgresWriter<Transfer> other = otherSink.createWriter(new WriterContext(0, OptionalLong.empty()))) {
            writer.write(entry(1, "acct-1", "1.00"), null);
            c1 = writer.prepareCommit();
            writer.snapshotState(1);
            // A sink whose prefix starts like ours: its gid 'proto-0-0-1' must never be taken for ours.
            other.write(entry(100, "acct-9", "9.00"), null);
            other.prepareCommit();
            // Checkpoint 1's notification never arrives; the job dies after checkpoint 2's prepare... but
            // here checkpoint 1 completed, 2 did not: restore from 1.
            writer.write(entry(2, "acct-2", "2.00"), null);
            assertThat(writer.prepareCommit()).isEmpty(); // deferred: proto-0-1 still prepared
        }
        try (Connection c = EmbeddedPostgres.connect(url); Statement st = c.createStatement()) {
            // What a crashed attempt could leave: a prepared transaction of a checkpoint after 1.
            st.execute("BEGIN");
            st.execute("INSERT INTO stagewise_sink_commits (gid, sink, subtask, checkpoint_id, row_count) VALUES ('proto-0-2', 'proto', 0, 2, 0)");
            st.execute("PREPARE TRANSACTION 'proto-0-2'");
            // ... and one of a subtask index that no longer exists after a downscale.
            st.execute("BEGIN");
            st.execute("INSERT INTO stagewise_sink_commits (gid, sink, subtask, checkpoint_id, row_count) VALUES ('proto-5-2', 'proto', 5, 2, 0)");
            st.execute("PREPARE TRANSACTION 'proto-5-2'");
        }
        assertThat(prepared()).containsExactlyInAnyOrder("proto-0-1", "proto-0-2", "proto-5-2", "proto-0-0-1");

        // (3) Restore from checkpoint 1: the committer commits what state hands back, the writer
        // rolls back what came after.
        PostgresCommitter committer = (PostgresCommitter) sink.createCommitter(new CommitterContext(0, OptionalLong.of(1)));
        assertThat(commit(committer, c1).state).isEqualTo("committed");
        try (PostgresWriter<Transfer> restored = sink.restoreWriter(new WriterContext(0, OptionalLong.of(1)), List.of())) {
            assertThat(prepared()).containsExactly("proto-0-0-1");
            restored.write(entry(2, "acct-2", "2.00"), null); // replayed by the source
            Collection<PostgresCommittable> c2 = restored.prepareCommit();
            assertThat(c2).singleElement().satisfies(c -> assertThat(c.gid()).isEqualTo("proto-0-2"));
            assertThat(commit(committer, c2).state).isEqualTo("committed");
        }
        committer.close();
        try (Connection c = EmbeddedPostgres.connect(url); Statement st = c.createStatement()) {
            st.execute("ROLLBACK PREPARED 'proto-0-0-1'");
        }
        assertAudit(Map.of("acct-1", new BigDecimal("1.00"), "acct-2", new BigDecimal("2.00")), 2);
    }

    @Test
    void aForeignLockEndsInABoundedErrorNotAHang() throws Exception {
        PostgresSink<Transfer> sink = sink(true);
        try (PostgresWriter<Transfer> writer = sink.createWriter(new WriterContext(0, OptionalLong.empty()));
                Connection foreign = EmbeddedPostgres.connect(url); Statement st = foreign.createStatement()) {
            st.execute("INSERT INTO " + Transfers.TOTALS + " VALUES ('acct-1', 0)");
            foreign.setAutoCommit(false);
            st.execute("SELECT * FROM " + Transfers.TOTALS + " WHERE account = 'acct-1' FOR UPDATE");
            writer.write(entry(1, "acct-1", "1.00"), null);
            long start = System.nanoTime();
            assertThatThrownBy(writer::prepareCommit)
                    .isInstanceOf(java.io.IOException.class)
                    .hasMessageContaining("lock_timeout").hasMessageContaining("proto-0-1");
            assertThat((System.nanoTime() - start) / 1_000_000).isBetween(1_900L, 10_000L);
            foreign.rollback();
        }
        assertThat(prepared()).isEmpty();
    }

    private List<String> prepared() throws SQLException {
        List<String> gids = new ArrayList<>();
        try (Connection c = EmbeddedPostgres.connect(url); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT gid FROM pg_prepared_xacts WHERE database = current_database()")) {
            while (rs.next()) {
                gids.add(rs.getString(1));
            }
        }
        return gids;
    }

    private void assertAudit(Map<String, BigDecimal> sums, long payments) throws SQLException {
        try (Connection c = EmbeddedPostgres.connect(url)) {
            assertThat(Transfers.audit(c, sums, payments)).isEmpty();
        }
    }

    private static Outcome commit(PostgresCommitter committer, Collection<PostgresCommittable> committables) throws Exception {
        Outcome outcome = new Outcome(committables.iterator().next());
        committer.commit(List.of(outcome));
        return outcome;
    }

    /** Records what the committer signalled, as Flink's CommitRequestImpl would act on it. */
    private static final class Outcome implements Committer.CommitRequest<PostgresCommittable> {
        private final PostgresCommittable committable;
        String state = "committed";
        Throwable error;

        Outcome(PostgresCommittable committable) {
            this.committable = committable;
        }

        @Override
        public PostgresCommittable getCommittable() {
            return committable;
        }

        @Override
        public int getNumberOfRetries() {
            return 0;
        }

        @Override
        public void signalFailedWithKnownReason(Throwable t) {
            state = "failed (known)";
            error = t;
        }

        @Override
        public void signalFailedWithUnknownReason(Throwable t) {
            state = "failed (unknown)";
            error = t;
            throw new IllegalStateException("Failed to commit " + committable, t);
        }

        @Override
        public void retryLater() {
            state = "retry later";
        }

        @Override
        public void updateAndRetryLater(PostgresCommittable committable) {
            state = "retry later";
        }

        @Override
        public void signalAlreadyCommitted() {
            state = "already committed";
        }
    }

    private static final class CommitterContext implements CommitterInitContext {
        private final int subtask;
        private final OptionalLong restored;

        CommitterContext(int subtask, OptionalLong restored) {
            this.subtask = subtask;
            this.restored = restored;
        }

        @Override
        public SinkCommitterMetricGroup metricGroup() {
            return InternalSinkCommitterMetricGroup.wrap(UnregisteredMetricsGroup.createOperatorMetricGroup());
        }

        @Override
        public OptionalLong getRestoredCheckpointId() {
            return restored;
        }

        @Override
        public JobInfo getJobInfo() {
            return new JobInfoImpl(new JobID(), "protocol-test");
        }

        @Override
        public TaskInfo getTaskInfo() {
            return new TaskInfoImpl("sink", 128, subtask, 1, 0);
        }
    }

    private static final class WriterContext implements WriterInitContext {
        private final int subtask;
        private final OptionalLong restored;

        WriterContext(int subtask, OptionalLong restored) {
            this.subtask = subtask;
            this.restored = restored;
        }

        @Override
        public OptionalLong getRestoredCheckpointId() {
            return restored;
        }

        @Override
        public JobInfo getJobInfo() {
            return new JobInfoImpl(new JobID(), "protocol-test");
        }

        @Override
        public TaskInfo getTaskInfo() {
            return new TaskInfoImpl("sink", 128, subtask, 1, 0);
        }

        @Override
        public UserCodeClassLoader getUserCodeClassLoader() {
            throw new UnsupportedOperationException();
        }

        @Override
        public MailboxExecutor getMailboxExecutor() {
            return new NoMails();
        }

        @Override
        public ProcessingTimeService getProcessingTimeService() {
            throw new UnsupportedOperationException();
        }

        @Override
        public SinkWriterMetricGroup metricGroup() {
            return UnregisteredMetricsGroup.createSinkWriterMetricGroup();
        }

        @Override
        public SerializationSchema.InitializationContext asSerializationSchemaInitializationContext() {
            throw new UnsupportedOperationException();
        }

        @Override
        public boolean isObjectReuseEnabled() {
            return false;
        }

        @Override
        public <IN> TypeSerializer<IN> createInputSerializer() {
            throw new UnsupportedOperationException();
        }
    }

    private static final class NoMails implements MailboxExecutor {
        @Override
        public void execute(MailOptions options, ThrowingRunnable<? extends Exception> command, String description,
                Object... descriptionArgs) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void yield() {
            throw new UnsupportedOperationException();
        }

        @Override
        public boolean tryYield() {
            return false;
        }

        @Override
        public boolean shouldInterrupt() {
            return false;
        }
    }
}
