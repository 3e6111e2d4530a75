package io.stagewise.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.stagewise.gateway.Fault;
import io.stagewise.gateway.FaultPolicy;
import io.stagewise.gateway.GatewaySettings;
import io.stagewise.jobs.audit.Classification.IdClass;
import io.stagewise.jobs.payments.PaymentsWorkflow;
import io.stagewise.jobs.reconcile.ReconcileReport;
import io.stagewise.jobs.reconcile.ReconcileSettings;
import io.stagewise.jobs.reconcile.ReconcileState;
import io.stagewise.jobs.reconcile.Reconciliation;
import io.stagewise.operators.event.StagewiseHeaders;
import io.stagewise.operators.ingest.EventParser;
import io.stagewise.operators.retry.RetryLadder;
import io.stagewise.testkit.PaymentGenerator;
import io.stagewise.testkit.Sandbox;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Reconciliation (docs/reconcile.md) after a clean payments run on a real broker, PostgreSQL,
 * gateway and Flink mini cluster: each planted discrepancy is found, and the repairable ones are
 * re-injected once and applied once.
 */
class ReconcileITCase {
    @RegisterExtension
    static final Sandbox SANDBOX = new Sandbox();

    private static final Duration SETTLED = Duration.ZERO;

    @Test
    void plantedDiscrepanciesAreFoundAndRepairedOnce() throws Exception {
        try (PaymentsRun run = new PaymentsRun(SANDBOX.kafka(), SANDBOX.postgres(), SANDBOX.dir(), GatewaySettings.builder(),
                120, 401)) {
            run.start(PaymentsWorkflow.create(run.gateway.url()), conf -> { });
            run.produce(0);
            assertThat(run.settle().passed()).isTrue();
            int ids = run.plan.validIds().size();

            ReconcileReport clean = reconcile(run, SETTLED, false, false, "clean");
            assertThat(clean.exitCode()).as(clean.render()).isZero();
            assertThat(clean.count(IdClass.COMPLETED)).isEqualTo(ids);

            // The fresh run below resumes from the group's committed offsets: they must cover the whole input, or it
            // re-reads committed records with empty state and duplicates them (offsets are committed after a checkpoint).
            awaitOffsetsCommittedToTheEnd(run);
            run.job.cancel().get();
            String missing = deleteFirstOutputRecord(run);
            String chargedNotRecorded;
            String duplicated;
            try (Connection db = DriverManager.getConnection(run.ledger.jdbcUrl())) {
                deleteLedgerRow(db, missing);
                chargedNotRecorded = anotherPayment(db, Set.of(missing));
                deleteLedgerRow(db, chargedNotRecorded);
                duplicated = anotherPayment(db, Set.of(missing, chargedNotRecorded));
                execute(db, "INSERT INTO ledger (payment_id, event_id, account, amount, currency, charge_id, applied_at) "
                        + "SELECT payment_id || '-dup', event_id, account, amount, currency, charge_id, applied_at FROM ledger "
                        + "WHERE payment_id = '" + duplicated + "'");
                execute(db, "UPDATE balances b SET balance = b.balance + l.amount FROM ledger l "
                        + "WHERE l.payment_id = '" + duplicated + "-dup' AND b.account = l.account");
                execute(db, "INSERT INTO gateway_idempotency_keys (idempotency_key, endpoint, request_hash, state) "
                        + "VALUES ('stray-1:charge', 'charges', 'planted', 'executing')");
                execute(db, "INSERT INTO gateway_charges (charge_id, idempotency_key, payment_id, account, amount, currency, merchant) "
                        + "VALUES ('ch-stray-1', 'stray-1:charge', 'stray-1', 'acct-0', 1.00, 'EUR', 'm-0')");
                execute(db, "UPDATE balances SET balance = balance + 1 WHERE account = (SELECT min(account) FROM balances)");
            }

            ReconcileReport dry = reconcile(run, SETTLED, true, true, "dry");
            assertThat(dry.exitCode()).as(dry.render()).isEqualTo(1);
            assertThat(ids(dry, IdClass.MISSING)).containsExactly(missing);
            assertThat(ids(dry, IdClass.CHARGED_NOT_RECORDED)).containsExactly(chargedNotRecorded);
            assertThat(ids(dry, IdClass.DUPLICATED)).containsExactly(duplicated);
            assertThat(dry.count(IdClass.COMPLETED)).isEqualTo(ids - 3);
            assertThat(dry.strays()).isEqualTo(1);
            assertThat(dry.strayExamples()).extracting(f -> f.id).containsExactly("stray-1");
            assertThat(dry.balanceMismatches()).isEqualTo(1);
            assertThat(dry.repair().dryRun()).isTrue();
            assertThat(dry.repair().written()).isEqualTo(2);
            assertThat(repairRecords(run)).as("a dry run writes nothing").isEmpty();

            ReconcileReport repair = reconcile(run, SETTLED, true, false, "repair-1");
            assertThat(repair.repair().written()).isEqualTo(2);
            assertThat(repair.repair().transactions()).isEqualTo(1);
            List<ConsumerRecord<byte[], byte[]>> injected = await().atMost(Duration.ofSeconds(30))
                    .until(() -> repairRecords(run), list -> list.size() == 2);
            assertThat(injected).extracting(r -> PaymentsRun.header(r, "stagewise.repair-of"))
                    .containsExactlyInAnyOrder("repair-1:MISSING", "repair-1:CHARGED-NOT-RECORDED");

            ReconcileReport again = reconcile(run, SETTLED, true, false, "repair-2");
            assertThat(again.repair().written()).as("a second repair writes nothing new").isZero();
            assertThat(again.repair().skipped()).isEqualTo(2);
            ReconcileReport settling = reconcile(run, Duration.ofMinutes(10), false, false, "settling");
            assertThat(ids(settling, IdClass.IN_FLIGHT)).containsExactlyInAnyOrder(missing, chargedNotRecorded);

            // A pipeline that never saw the ids (fresh state, committed offsets) applies the repairs.
            // A restored one would drop them: its dedup state says COMPLETED (docs/reconcile.md).
            run.start(PaymentsWorkflow.create(run.gateway.url()), conf -> { });
            await("the repaired MISSING id completes").atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofSeconds(2))
                    .until(() -> ledgerRows(run, missing) == 1 && ledgerRows(run, chargedNotRecorded) == 1
                            && outputRecords(run, missing) == 1);
            ReconcileReport after = reconcile(run, SETTLED, false, false, "after");
            assertThat(after.count(IdClass.MISSING)).as(after.render()).isZero();
            assertThat(after.count(IdClass.CHARGED_NOT_RECORDED)).isZero();
            assertThat(after.count(IdClass.COMPLETED)).as(after.render()).isEqualTo(ids - 2);
            Map<String, Integer> charges = run.gateway.effectiveCharges();
            assertThat(charges.get(missing)).as("the gateway's idempotency made the repair's charge a replay").isEqualTo(1);
            assertThat(charges.get(chargedNotRecorded)).isEqualTo(1);
            // The CHARGED-NOT-RECORDED id's output record existed; the repair's run adds a second one.
            assertThat(outputRecords(run, chargedNotRecorded)).isEqualTo(2);
            assertThat(ids(after, IdClass.DUPLICATED)).containsExactlyInAnyOrder(duplicated, chargedNotRecorded);
        }
    }

    @Test
    void eventsInTheRetryLadderAreInFlightNotMissing() throws Exception {
        RetryLadder ladder = new RetryLadder(1, Duration.ofMinutes(2), 4);
        // The plan PaymentsRun makes for 60 events and seed 402: its first ids (sorted) fail every charge with 503.
        Set<String> failing = PaymentGenerator.plan(new PaymentGenerator.Settings(60, 0.05, 0.0, 402, 10)).validIds()
                .stream().sorted().limit(3).collect(Collectors.toSet());
        GatewaySettings.Builder gateway = GatewaySettings.builder().faults(FaultPolicy.firstRequests("charges",
                key -> failing.contains(key.substring(0, key.indexOf(':'))), 1000, Fault.TRANSIENT));
        try (PaymentsRun faulty = new PaymentsRun(SANDBOX.kafka(), SANDBOX.postgres(), SANDBOX.dir(), gateway, 60, 402)) {
            faulty.start(PaymentsWorkflow.create(faulty.gateway.url()), conf -> {
                conf.set(StagewiseOptions.RETRY_TOPICS, ladder.steps());
                conf.set(StagewiseOptions.RETRY_TOPICS_INITIAL_DELAY, ladder.delay(1));
            });
            faulty.produce(0);
            int ids = faulty.plan.validIds().size();
            await("all but the failing payments complete, the failing ones wait in the retry ladder")
                    .atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofSeconds(1))
                    .until(() -> faulty.read(faulty.topics.output()).size() == ids - failing.size()
                            && faulty.read(RetryLadder.topic(faulty.input, 1)).size() >= failing.size());

            Duration window = ReconcileSettings.settleWindow(ladder, Duration.ofMillis(500));
            ReconcileReport report = reconcile(faulty, window, false, false, "ladder");
            assertThat(report.exitCode()).as(report.render()).isZero();
            assertThat(ids(report, IdClass.IN_FLIGHT)).containsExactlyInAnyOrderElementsOf(failing);
            assertThat(report.count(IdClass.COMPLETED)).isEqualTo(ids - failing.size());

            ReconcileReport noWindow = reconcile(faulty, SETTLED, false, false, "no-window");
            assertThat(ids(noWindow, IdClass.MISSING)).containsExactlyInAnyOrderElementsOf(failing);
        }
    }

    /**
     * Periodic mode reads each topic from the last run's end offsets, and carries what it could not
     * settle: ids waiting in the retry ladder are in-flight in run 1 and completed in run 2 (their
     * input record is not read again); a duplicate of an id completed before run 2 is completed in
     * run 3, from its ledger row older than run 2's snapshot.
     */
    @Test
    void periodicRunsReadOnlyWhatIsNewAndCarryInFlightIds() throws Exception {
        // Long enough that run 1 starts while the failing ids wait, even on a loaded machine.
        RetryLadder ladder = new RetryLadder(1, Duration.ofSeconds(90), 4);
        Set<String> failing = PaymentGenerator.plan(new PaymentGenerator.Settings(40, 0.05, 0.0, 403, 10)).validIds()
                .stream().sorted().limit(3).collect(Collectors.toSet());
        // Two failed attempts in the operator, then the retry topic; the third attempt succeeds.
        GatewaySettings.Builder gateway = GatewaySettings.builder().faults(FaultPolicy.firstRequests("charges",
                key -> failing.contains(key.substring(0, key.indexOf(':'))), 2, Fault.TRANSIENT));
        try (PaymentsRun run = new PaymentsRun(SANDBOX.kafka(), SANDBOX.postgres(), SANDBOX.dir(), gateway, 40, 403)) {
            run.start(PaymentsWorkflow.create(run.gateway.url()), conf -> {
                conf.set(StagewiseOptions.RETRY_ATTEMPTS, 2);
                conf.set(StagewiseOptions.RETRY_TOPICS, ladder.steps());
                conf.set(StagewiseOptions.RETRY_TOPICS_INITIAL_DELAY, ladder.delay(1));
            });
            run.produce(0);
            int ids = run.plan.validIds().size();
            await("all but the failing payments complete, the failing ones wait in the retry ladder")
                    .atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofSeconds(1))
                    .until(() -> run.read(run.topics.output()).size() == ids - failing.size()
                            && run.read(RetryLadder.topic(run.input, 1)).size() >= failing.size());
            ReconcileState state = new ReconcileState(run.ledger);

            ReconcileReport first = reconcile(run, Duration.ofMinutes(3), Optional.of(state), "periodic-1");
            assertThat(ids(first, IdClass.IN_FLIGHT)).as(first.render()).containsExactlyInAnyOrderElementsOf(failing);
            assertThat(first.count(IdClass.COMPLETED)).isEqualTo(ids - failing.size());
            assertThat(first.readCounts()).containsEntry("input", (long) run.plan.records().size())
                    .containsEntry("output", (long) (ids - failing.size())).containsEntry("carried", 0L);

            await("the failing payments complete from the retry topic").atMost(Duration.ofSeconds(240))
                    .pollInterval(Duration.ofSeconds(1))
                    .until(() -> run.read(run.topics.output()).size() == ids && ledgerRows(run) == ids);
            PaymentGenerator.Plan more = PaymentGenerator.plan(new PaymentGenerator.Settings(20, 0.0, 0.0, 404, 10));
            run.produce(more.records());
            int all = ids + more.validIds().size();
            await("the new payments completed").atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofSeconds(1))
                    .until(() -> run.read(run.topics.output()).size() == all && ledgerRows(run) == all);

            ReconcileReport second = reconcile(run, SETTLED, Optional.of(state), "periodic-2");
            assertThat(second.exitCode()).as(second.render()).isZero();
            assertThat(second.count(IdClass.COMPLETED)).as("the carried ids and the new ones: " + second.render())
                    .isEqualTo(failing.size() + more.validIds().size());
            assertThat(classified(second)).isEqualTo(failing.size() + more.validIds().size());
            assertThat(second.readCounts()).as("only the new records: " + second.render())
                    .containsEntry("input", (long) more.records().size())
                    .containsEntry("output", (long) (failing.size() + more.validIds().size()))
                    .containsEntry("dlq", 0L)
                    .containsEntry("carried", (long) failing.size());

            ReconcileReport idle = reconcile(run, SETTLED, Optional.of(state), "periodic-3");
            assertThat(classified(idle)).as("nothing new: " + idle.render()).isZero();
            assertThat(idle.readCounts()).containsEntry("input", 0L).containsEntry("output", 0L).containsEntry("carried", 0L);

            // A producer duplicate of an id completed long ago: the pipeline drops it, the window holds only its input.
            String old = run.plan.validIds().stream().filter(id -> !failing.contains(id)).sorted().findFirst().orElseThrow();
            PaymentGenerator.Record original = run.plan.records().stream()
                    .filter(r -> new String(r.value(), StandardCharsets.UTF_8).contains("\"" + old + "\"")).findFirst().orElseThrow();
            run.produce(List.of(original));
            ReconcileReport duplicate = reconcile(run, SETTLED, Optional.of(state), "periodic-4");
            assertThat(duplicate.exitCode()).as(duplicate.render()).isZero();
            assertThat(duplicate.count(IdClass.COMPLETED)).as(duplicate.render()).isEqualTo(1);
            assertThat(classified(duplicate)).isEqualTo(1);
            assertThat(duplicate.readCounts()).containsEntry("input", 1L).containsEntry("output", 0L);

            String html = duplicate.toHtml();
            assertThat(html).contains("<svg").doesNotContain("<script");
            assertThat(html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "")).as("self-contained").doesNotContain("http");
            for (String runId : List.of("periodic-1", "periodic-2", "periodic-3", "periodic-4")) {
                assertThat(html).contains("data-class=\"MISSING\" data-run=\"" + runId + "\" data-count=\"0\"");
            }
            assertThat(duplicate.history()).extracting(ReconcileState.RunPoint::runId)
                    .containsExactly("periodic-1", "periodic-2", "periodic-3", "periodic-4");
        }
    }

    private static long classified(ReconcileReport report) {
        long total = 0;
        for (IdClass idClass : IdClass.values()) {
            total += report.count(idClass);
        }
        return total;
    }

    private static ReconcileReport reconcile(PaymentsRun run, Duration settle, Optional<ReconcileState> state, String runId) {
        ReconcileSettings settings = new ReconcileSettings(run.kafka.bootstrapServers(), run.input, run.topics.output(),
                run.topics.dlq(), Optional.of(run.ledger), Optional.empty(), Optional.of(run.ledger.jdbcUrl()),
                settle, EventParser.DEFAULT_MAX_EVENT_BYTES, 2, Map.of());
        Reconciliation.Options options = new Reconciliation.Options(runId, 100, false, false, 100, Optional.empty());
        return Reconciliation.run(StreamExecutionEnvironment.getExecutionEnvironment(), settings, options, state);
    }

    private static int ledgerRows(PaymentsRun run) throws SQLException {
        try (Connection db = DriverManager.getConnection(run.ledger.jdbcUrl());
                Statement st = db.createStatement(); ResultSet rs = st.executeQuery("SELECT count(*) FROM ledger")) {
            rs.next();
            return rs.getInt(1);
        }
    }

    private static ReconcileReport reconcile(PaymentsRun run, Duration settle, boolean repair, boolean dryRun, String runId) {
        ReconcileSettings settings = new ReconcileSettings(run.kafka.bootstrapServers(), run.input, run.topics.output(),
                run.topics.dlq(), Optional.of(run.ledger),
                runId.startsWith("repair") ? Optional.of(run.gateway.url()) : Optional.empty(),
                runId.startsWith("repair") ? Optional.empty() : Optional.of(run.ledger.jdbcUrl()),
                settle, EventParser.DEFAULT_MAX_EVENT_BYTES, 2, Map.of());
        Reconciliation.Options options = new Reconciliation.Options(runId, 100, repair, dryRun, 100, Optional.empty());
        return Reconciliation.run(StreamExecutionEnvironment.getExecutionEnvironment(), settings, options);
    }

    private static List<String> ids(ReconcileReport report, IdClass idClass) {
        assertThat(report.count(idClass)).as(report.render()).isEqualTo(report.examples(idClass).size());
        return report.examples(idClass).stream().map(f -> f.id).collect(Collectors.toList());
    }

    private static List<ConsumerRecord<byte[], byte[]>> repairRecords(PaymentsRun run) {
        return run.read(run.input).stream().filter(r -> r.headers().lastHeader("stagewise.repair-of") != null)
                .collect(Collectors.toList());
    }

    /** Deletes the first record of output partition 0 (Kafka deletes a prefix) and returns its event id. */
    private static void awaitOffsetsCommittedToTheEnd(PaymentsRun run) {
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", run.kafka.bootstrapServers()))) {
            await("the source's offsets committed up to the end of " + run.input).atMost(Duration.ofSeconds(60))
                    .pollInterval(Duration.ofMillis(250)).until(() -> {
                        Map<TopicPartition, OffsetAndMetadata> committed = admin
                                .listConsumerGroupOffsets("stagewise-" + run.input).partitionsToOffsetAndMetadata().get();
                        Map<TopicPartition, OffsetSpec> latest = committed.keySet().stream()
                                .collect(Collectors.toMap(tp -> tp, tp -> OffsetSpec.latest()));
                        if (committed.size() < 2) {
                            return false;
                        }
                        Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> ends = admin.listOffsets(latest).all().get();
                        return committed.entrySet().stream()
                                .allMatch(e -> e.getValue() != null && e.getValue().offset() >= ends.get(e.getKey()).offset());
                    });
        }
    }

    private static String deleteFirstOutputRecord(PaymentsRun run) throws Exception {
        ConsumerRecord<byte[], byte[]> first = run.read(run.topics.output()).stream().filter(r -> r.partition() == 0)
                .min(Comparator.comparingLong(ConsumerRecord::offset)).orElseThrow();
        try (Admin admin = Topics.admin(run.kafka.bootstrapServers())) {
            admin.deleteRecords(Map.of(new TopicPartition(run.topics.output(), 0),
                    RecordsToDelete.beforeOffset(first.offset() + 1))).all().get();
        }
        return PaymentsRun.header(first, StagewiseHeaders.EVENT_ID);
    }

    /** Deletes a ledger row and takes its amount off the balance, so only the row is missing. */
    private static void deleteLedgerRow(Connection db, String paymentId) throws SQLException {
        execute(db, "UPDATE balances b SET balance = b.balance - l.amount FROM ledger l "
                + "WHERE l.payment_id = '" + paymentId + "' AND b.account = l.account");
        execute(db, "DELETE FROM ledger WHERE payment_id = '" + paymentId + "'");
    }

    private static String anotherPayment(Connection db, Set<String> not) throws SQLException {
        try (Statement st = db.createStatement(); ResultSet rs = st.executeQuery("SELECT payment_id FROM ledger ORDER BY payment_id")) {
            while (rs.next()) {
                if (!not.contains(rs.getString(1))) {
                    return rs.getString(1);
                }
            }
        }
        throw new IllegalStateException("no other payment in the ledger");
    }

    private static int ledgerRows(PaymentsRun run, String eventId) throws SQLException {
        try (Connection db = DriverManager.getConnection(run.ledger.jdbcUrl());
                PreparedStatement st = db.prepareStatement("SELECT count(*) FROM ledger WHERE event_id = ?")) {
            st.setString(1, eventId);
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                return rs.getInt(1);
            }
        }
    }

    private static long outputRecords(PaymentsRun run, String eventId) {
        return run.read(run.topics.output()).stream()
                .filter(r -> eventId.equals(PaymentsRun.header(r, StagewiseHeaders.EVENT_ID))).count();
    }

    private static void execute(Connection db, String sql) throws SQLException {
        try (Statement st = db.createStatement()) {
            st.execute(sql);
        }
    }
}
