package io.stagewise.sinks.postgres;

import io.stagewise.sinks.postgres.fixture.Transfer;
import io.stagewise.sinks.postgres.fixture.TransferSerializer;
import io.stagewise.sinks.postgres.fixture.TransferWriter;
import io.stagewise.sinks.postgres.fixture.Transfers;
import io.stagewise.testkit.EmbeddedPostgres;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stagewise.sinks.postgres.internal.Gids;
import io.stagewise.sinks.postgres.internal.PostgresCommittable;
import io.stagewise.sinks.postgres.internal.PostgresCommitter;
import io.stagewise.sinks.postgres.internal.PostgresWriter;
import io.stagewise.sinks.postgres.internal.PostgresWriterState;
import java.io.IOException;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
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
    /** One job submission: every attempt and restore of a run in a test shares its job id. */
    private static final JobID SAME_RUN = new JobID();
    private static final String L = Gids.lineageOf(SAME_RUN);

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
                .setLockTimeout(Duration.ofSeconds(2))
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
                assertThat(c.gid()).isEqualTo("proto-" + L + "-0-1");
                assertThat(c.lineage()).isEqualTo(L);
                assertThat(c.rowCount()).isEqualTo(2);
            });
            assertThat(writer.snapshotState(1)).singleElement().satisfies(s -> {
                assertThat(s.bufferedRows()).isEmpty();
                assertThat(s.lineages()).containsExactly(L);
            });
            assertThat(prepared()).containsExactly("proto-" + L + "-0-1");

            // Checkpoint 2's barrier arrives before checkpoint 1's commit: the same account again.
            writer.write(entry(3, "acct-1", "1.00"), null);
            assertThat(writer.prepareCommit()).as("deferred, not blocked on checkpoint 1's row lock").isEmpty();
            List<PostgresWriterState<Transfer>> state = writer.snapshotState(2);
            assertThat(state).singleElement().satisfies(s -> assertThat(s.bufferedRows()).containsExactly(entry(3, "acct-1", "1.00")));
            assertThat(prepared()).containsExactly("proto-" + L + "-0-1");

            Outcome commit1 = commit(committer, first);
            assertThat(commit1.state).isEqualTo("committed");

            writer.write(entry(4, "acct-1", "2.00"), null);
            Collection<PostgresCommittable> third = writer.prepareCommit();
            assertThat(third).singleElement().satisfies(c -> {
                assertThat(c.gid()).isEqualTo("proto-" + L + "-0-3");
                assertThat(c.rowCount()).as("carried-over row plus the new one").isEqualTo(2);
            });
            assertThat(writer.snapshotState(3)).singleElement().satisfies(s -> assertThat(s.bufferedRows()).isEmpty());
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
            st.execute("ROLLBACK PREPARED 'proto-" + L + "-0-2'");
        }
        assertThatThrownBy(() -> commit(committer, c2))
                .isInstanceOf(IllegalStateException.class)
                .rootCause().hasMessageContaining("proto-" + L + "-0-2").hasMessageContaining("lost");
        committer.close();

        PostgresCommitter lenient = (PostgresCommitter) sink(false).createCommitter(new CommitterContext(0, OptionalLong.empty()));
        Outcome outcome = commit(lenient, c2);
        assertThat(outcome.state).isEqualTo("failed (known)");
        assertThat(outcome.error).hasMessageContaining("proto-" + L + "-0-2");
        lenient.close();
        assertAudit(Map.of("acct-1", new BigDecimal("3.00")), 1);
    }

    /**
     * (2d) A commit that fails for a reason retrying will not obviously heal (here: the committer's
     * role may not finish the transaction) must not drop the committable while its transaction is
     * still prepared: it is retried (Flink fails over after sink.committer.retries, and the
     * restored committer tries again), never signalled as a known failure, which drops it.
     */
    @Test
    void aCommitThatKeepsFailingIsRetriedNeverDroppedWhileItsTransactionIsPrepared() throws Exception {
        PostgresSink<Transfer> sink = sink(true);
        Collection<PostgresCommittable> c1;
        try (PostgresWriter<Transfer> writer = sink.createWriter(new WriterContext(0, OptionalLong.empty()))) {
            writer.write(entry(1, "acct-1", "3.00"), null);
            c1 = writer.prepareCommit();
        }
        try (Connection c = EmbeddedPostgres.connect(url); Statement st = c.createStatement()) {
            st.execute("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'clerk') THEN "
                    + "CREATE ROLE clerk LOGIN; END IF; END $$");
            st.execute("GRANT USAGE, CREATE ON SCHEMA public TO clerk");
            st.execute("GRANT SELECT ON stagewise_sink_commits TO clerk");
        }
        String urlWithoutUser = url.contains("?") ? url.substring(0, url.indexOf('?')) : url;
        PostgresSink<Transfer> asClerk = PostgresSink.<Transfer>builder()
                .setJdbcUrl(urlWithoutUser).setUsername("clerk").setPassword("")
                .setTransactionIdPrefix("proto")
                .setRowWriter(new TransferWriter()).setRowSerializer(new TransferSerializer())
                .build();
        PostgresCommitter clerk = (PostgresCommitter) asClerk.createCommitter(new CommitterContext(0, OptionalLong.empty()));
        Outcome refused = commit(clerk, c1);
        assertThat(refused.state).as("permission denied while prepared: retried, not dropped").isEqualTo("retry later");
        clerk.close();
        assertThat(prepared()).containsExactly(c1.iterator().next().gid());

        PostgresCommitter committer = (PostgresCommitter) sink.createCommitter(new CommitterContext(0, OptionalLong.empty()));
        assertThat(commit(committer, c1).state).isEqualTo("committed");
        committer.close();
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
            // A sink whose prefix starts like ours: its gid 'proto-0-<lineage>-0-1' must never be taken for ours.
            other.write(entry(100, "acct-9", "9.00"), null);
            other.prepareCommit();
            // Checkpoint 1's notification never arrives; the job dies after checkpoint 2's prepare... but
            // here checkpoint 1 completed, 2 did not: restore from 1.
            writer.write(entry(2, "acct-2", "2.00"), null);
            assertThat(writer.prepareCommit()).isEmpty(); // deferred: checkpoint 1's transaction still prepared
        }
        try (Connection c = EmbeddedPostgres.connect(url); Statement st = c.createStatement()) {
            // What a crashed attempt could leave: a prepared transaction of a checkpoint after 1.
            st.execute("BEGIN");
            st.execute("INSERT INTO stagewise_sink_commits (gid, sink, subtask, checkpoint_id, row_count) VALUES ('proto-" + L + "-0-2', 'proto', 0, 2, 0)");
            st.execute("PREPARE TRANSACTION 'proto-" + L + "-0-2'");
            // ... and one of a subtask index that no longer exists after a downscale.
            st.execute("BEGIN");
            st.execute("INSERT INTO stagewise_sink_commits (gid, sink, subtask, checkpoint_id, row_count) VALUES ('proto-" + L + "-5-2', 'proto', 5, 2, 0)");
            st.execute("PREPARE TRANSACTION 'proto-" + L + "-5-2'");
        }
        String other = "proto-0-" + L + "-0-1";
        assertThat(prepared()).containsExactlyInAnyOrder("proto-" + L + "-0-1", "proto-" + L + "-0-2", "proto-" + L + "-5-2", other);

        // (3) Restore from checkpoint 1: the committer commits what state hands back, the writer
        // rolls back what came after.
        PostgresCommitter committer = (PostgresCommitter) sink.createCommitter(new CommitterContext(0, OptionalLong.of(1)));
        assertThat(commit(committer, c1).state).isEqualTo("committed");
        try (PostgresWriter<Transfer> restored = sink.restoreWriter(new WriterContext(0, OptionalLong.of(1)), List.of())) {
            assertThat(prepared()).containsExactly(other);
            restored.write(entry(2, "acct-2", "2.00"), null); // replayed by the source
            Collection<PostgresCommittable> c2 = restored.prepareCommit();
            assertThat(c2).singleElement().satisfies(c -> assertThat(c.gid()).isEqualTo("proto-" + L + "-0-2"));
            assertThat(commit(committer, c2).state).isEqualTo("committed");
        }
        committer.close();
        try (Connection c = EmbeddedPostgres.connect(url); Statement st = c.createStatement()) {
            st.execute("ROLLBACK PREPARED '" + other + "'");
        }
        assertAudit(Map.of("acct-1", new BigDecimal("1.00"), "acct-2", new BigDecimal("2.00")), 2);
    }

    /** Issue 9 #2: a fresh run of the same sink never collides with the marker rows of an earlier run. */
    @Test
    void aFreshRunNeverCollidesWithAnEarlierRunsCommittedTransactions() throws Exception {
        PostgresSink<Transfer> sink = sink(true);
        PostgresCommitter committer = (PostgresCommitter) sink.createCommitter(new CommitterContext(0, OptionalLong.empty()));
        String firstGid;
        try (PostgresWriter<Transfer> first = sink.createWriter(new WriterContext(new JobID(), 0, 1, OptionalLong.empty()))) {
            first.write(entry(1, "acct-1", "1.00"), null);
            Collection<PostgresCommittable> c1 = first.prepareCommit();
            firstGid = c1.iterator().next().gid();
            assertThat(commit(committer, c1).state).isEqualTo("committed");
        }
        // `run --fresh`: a new submission without state, the same prefix, checkpoint ids from 1 again.
        try (PostgresWriter<Transfer> fresh = sink.createWriter(new WriterContext(new JobID(), 0, 1, OptionalLong.empty()))) {
            fresh.write(entry(2, "acct-1", "2.00"), null);
            Collection<PostgresCommittable> c1 = fresh.prepareCommit();
            assertThat(c1).singleElement().satisfies(c -> assertThat(c.gid()).isNotEqualTo(firstGid));
            assertThat(commit(committer, c1).state).isEqualTo("committed");
        }
        committer.close();
        assertAudit(Map.of("acct-1", new BigDecimal("3.00")), 2);
    }

    /**
     * Issue 9 #2: a fresh run finds a prepared transaction another run left (killed, then started
     * without --restore): it is reported by name and refused, never silently rolled back (its
     * checkpoint may have completed, and then its rows exist nowhere else).
     */
    @Test
    void aFreshRunReportsAnotherRunsPreparedTransactionByNameAndLeavesIt() throws Exception {
        PostgresSink<Transfer> sink = sink(true);
        String leftover;
        try (PostgresWriter<Transfer> killed = sink.createWriter(new WriterContext(new JobID(), 0, 1, OptionalLong.empty()))) {
            killed.write(entry(1, "acct-1", "1.00"), null);
            leftover = killed.prepareCommit().iterator().next().gid();
        }
        assertThatThrownBy(() -> sink.createWriter(new WriterContext(new JobID(), 0, 1, OptionalLong.empty())))
                .isInstanceOf(IOException.class)
                .hasMessageContaining(leftover)
                .hasMessageContaining("COMMIT PREPARED")
                .hasMessageContaining("--restore");
        assertThat(prepared()).as("left for the run it belongs to, or an operator").containsExactly(leftover);
        try (Connection c = EmbeddedPostgres.connect(url); Statement st = c.createStatement()) {
            st.execute("ROLLBACK PREPARED '" + leftover + "'");
        }
    }

    /**
     * Issue 9 #6: writer state is spread round-robin on rescale, so rows a subtask carried over
     * land on a subtask that keyBy no longer routes their account to. 2 -> 3 -> 1 with one hot
     * account: the restored rows must be applied before any new row, so the subtask that now owns
     * the account never waits on another subtask's prepared transaction, and the ledger is exact.
     */
    @Test
    void restoreAfterRescaleTwoThreeOneNeverWaitsOnAnotherSubtasksLocks() throws Exception {
        PostgresSink<Transfer> sink = sink(true);
        JobID run1 = new JobID();
        PostgresCommitter committer = (PostgresCommitter) sink.createCommitter(new CommitterContext(0, OptionalLong.empty()));
        List<PostgresWriterState<Transfer>> checkpoint2 = new ArrayList<>();
        int n = 0;
        try (PostgresWriter<Transfer> w0 = sink.createWriter(new WriterContext(run1, 0, 2, OptionalLong.empty()));
                PostgresWriter<Transfer> w1 = sink.createWriter(new WriterContext(run1, 1, 2, OptionalLong.empty()))) {
            // Checkpoint 1 prepared on both; its notification is late, so checkpoint 2 defers.
            w0.write(entry(++n, "acct-hot", "1.00"), null);
            w1.write(entry(++n, "acct-b", "1.00"), null);
            Collection<PostgresCommittable> c10 = w0.prepareCommit();
            Collection<PostgresCommittable> c11 = w1.prepareCommit();
            w0.snapshotState(1);
            w1.snapshotState(1);
            w0.write(entry(++n, "acct-hot", "2.00"), null);
            w1.write(entry(++n, "acct-b", "2.00"), null);
            assertThat(w0.prepareCommit()).isEmpty();
            assertThat(w1.prepareCommit()).isEmpty();
            checkpoint2.addAll(w0.snapshotState(2));
            checkpoint2.addAll(w1.snapshotState(2));
            // Checkpoint 2 completes (subsuming 1); the job is stopped and rescaled before it commits.
            assertThat(commit(committer, c10).state).isEqualTo("committed");
            assertThat(commit(committer, c11).state).isEqualTo("committed");
        }
        assertThat(checkpoint2.stream().mapToInt(st -> st.bufferedRows().size()).sum()).isEqualTo(2);

        // 2 -> 3, round-robin: old subtask 0's rows (acct-hot) go to new subtask 0, old 1's to new 1;
        // keyBy now sends acct-hot to subtask 1 and acct-b to subtask 2 (a plausible new assignment).
        JobID run2 = new JobID();
        List<PostgresWriterState<Transfer>> checkpoint3 = new ArrayList<>();
        List<PostgresWriter<Transfer>> three = new ArrayList<>();
        try {
            for (int i = 0; i < 3; i++) {
                List<PostgresWriterState<Transfer>> mine = i < checkpoint2.size() ? List.of(checkpoint2.get(i)) : List.of();
                three.add(sink.restoreWriter(new WriterContext(run2, i, 3, OptionalLong.of(2)), mine));
            }
            three.get(1).write(entry(++n, "acct-hot", "3.00"), null);
            three.get(2).write(entry(++n, "acct-b", "3.00"), null);
            List<Collection<PostgresCommittable>> prepared = new ArrayList<>();
            long start = System.nanoTime();
            for (PostgresWriter<Transfer> w : three) {
                prepared.add(w.prepareCommit()); // old code: subtask 1 waits on subtask 0's acct-hot lock
            }
            assertThat((System.nanoTime() - start) / 1_000_000).as("no lock wait").isLessThan(1_500);
            for (int i = 0; i < 3; i++) {
                checkpoint3.addAll(three.get(i).snapshotState(3));
            }
            for (Collection<PostgresCommittable> c : prepared) {
                if (!c.isEmpty()) {
                    assertThat(commit(committer, c).state).isEqualTo("committed");
                }
            }
            // Rows that arrived after checkpoint 3's barrier, deferred nowhere: none. One more hot row
            // each on subtasks 1 and 0, left in the buffer at checkpoint 4 by a late notification.
            three.get(1).write(entry(++n, "acct-hot", "4.00"), null);
            Collection<PostgresCommittable> c41 = three.get(1).prepareCommit();
            three.get(1).snapshotState(4);
            three.get(1).write(entry(++n, "acct-hot", "5.00"), null);
            assertThat(three.get(1).prepareCommit()).isEmpty();
            checkpoint3.clear();
            for (int i = 0; i < 3; i++) {
                checkpoint3.addAll(three.get(i).snapshotState(5));
            }
            assertThat(commit(committer, c41).state).isEqualTo("committed");
        } finally {
            for (PostgresWriter<Transfer> w : three) {
                w.close();
            }
        }

        // 3 -> 1: every entry on the one subtask, which also gets new rows of both accounts.
        JobID run3 = new JobID();
        try (PostgresWriter<Transfer> one = sink.restoreWriter(new WriterContext(run3, 0, 1, OptionalLong.of(5)), checkpoint3)) {
            one.write(entry(++n, "acct-hot", "6.00"), null);
            one.write(entry(++n, "acct-b", "6.00"), null);
            Collection<PostgresCommittable> c6 = one.prepareCommit();
            assertThat(commit(committer, c6).state).isEqualTo("committed");
        }
        committer.close();
        assertThat(prepared()).isEmpty();
        assertAudit(Map.of("acct-hot", new BigDecimal("21.00"), "acct-b", new BigDecimal("12.00")), n);
    }

    /**
     * Issue 9 #11: the row buffer must not grow across checkpoints once nothing blocks writing:
     * when no transaction of the subtask is prepared, rows go early into the checkpoint's still
     * open transaction, maxBufferedRows at a time, and become visible only with its commit.
     */
    @Test
    void rowsAreWrittenEarlyOnceNoTransactionOfTheSubtaskIsPrepared() throws Exception {
        PostgresSink<Transfer> sink = PostgresSink.<Transfer>builder()
                .setJdbcUrl(url).setUsername("postgres").setPassword("")
                .setTransactionIdPrefix("proto")
                .setRowWriter(new TransferWriter()).setRowSerializer(new TransferSerializer())
                .setLockTimeout(Duration.ofSeconds(2))
                .setMaxBufferedRows(10)
                .build();
        PostgresCommitter committer = (PostgresCommitter) sink.createCommitter(new CommitterContext(0, OptionalLong.empty()));
        int n = 0;
        try (PostgresWriter<Transfer> writer = sink.createWriter(new WriterContext(0, OptionalLong.empty()))) {
            writer.write(entry(++n, "acct-1", "1.00"), null);
            Collection<PostgresCommittable> c1 = writer.prepareCommit();
            writer.snapshotState(1);
            // Checkpoint 1 still prepared: rows must wait (writing them would wait on its locks).
            for (int i = 0; i < 35; i++) {
                writer.write(entry(++n, "acct-1", "1.00"), null);
            }
            assertThat(writer.bufferedRowCount()).isEqualTo(35);
            assertThat(commit(committer, c1).state).isEqualTo("committed");
            // Nothing prepared any more: the next batch boundary writes everything early.
            for (int i = 0; i < 10; i++) {
                writer.write(entry(++n, "acct-1", "1.00"), null);
            }
            assertThat(writer.bufferedRowCount()).as("written early, not buffered").isLessThan(10);
            for (int i = 0; i < 25; i++) {
                writer.write(entry(++n, "acct-1", "1.00"), null);
                assertThat(writer.bufferedRowCount()).isLessThan(10);
            }
            try (Connection c = EmbeddedPostgres.connect(url)) {
                assertThat(Transfers.rows(c)).as("early rows stay invisible until the commit").isEqualTo(1);
            }
            Collection<PostgresCommittable> c2 = writer.prepareCommit();
            int afterCheckpoint1 = n - 1;
            assertThat(c2).singleElement().satisfies(c -> assertThat(c.rowCount()).isEqualTo(afterCheckpoint1));
            assertThat(writer.snapshotState(2)).singleElement().satisfies(s -> assertThat(s.bufferedRows()).isEmpty());
            assertThat(commit(committer, c2).state).isEqualTo("committed");
        }
        committer.close();
        assertAudit(Map.of("acct-1", new BigDecimal(n + ".00")), n);
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
                    .isInstanceOf(IOException.class)
                    .hasMessageContaining("lock_timeout").hasMessageContaining("proto-" + L + "-0-1");
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
        private final JobID jobId;
        private final int parallelism;

        WriterContext(int subtask, OptionalLong restored) {
            this(SAME_RUN, subtask, 1, restored);
        }

        WriterContext(JobID jobId, int subtask, int parallelism, OptionalLong restored) {
            this.subtask = subtask;
            this.restored = restored;
            this.jobId = jobId;
            this.parallelism = parallelism;
        }

        @Override
        public OptionalLong getRestoredCheckpointId() {
            return restored;
        }

        @Override
        public JobInfo getJobInfo() {
            return new JobInfoImpl(jobId, "protocol-test");
        }

        @Override
        public TaskInfo getTaskInfo() {
            return new TaskInfoImpl("sink", 128, subtask, parallelism, 0);
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
