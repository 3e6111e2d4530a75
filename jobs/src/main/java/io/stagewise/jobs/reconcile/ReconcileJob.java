package io.stagewise.jobs.reconcile;

import io.stagewise.jobs.StagewiseException;
import io.stagewise.jobs.audit.Classification;
import io.stagewise.jobs.audit.Classification.IdClass;
import io.stagewise.jobs.audit.IdFacts;
import io.stagewise.jobs.payments.PaymentsLedger;
import io.stagewise.jobs.payments.ledger.LedgerWriter;
import java.io.PrintWriter;
import java.math.BigDecimal;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.apache.flink.api.common.RuntimeExecutionMode;
import org.apache.flink.api.common.accumulators.LongCounter;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.FlatMapFunction;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichFlatMapFunction;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.flink.connector.kafka.source.reader.deserializer.KafkaRecordDeserializationSchema;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.util.Collector;
import org.apache.kafka.clients.consumer.OffsetResetStrategy;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/**
 * The reconcile job (docs/reconcile.md): a bounded Flink job, in batch execution mode, that
 * compares the source (the input topic) with every target (output topic, DLQ, ledger, the
 * gateway's effective charges) and classifies every distinct input id with {@link Classification}.
 *
 * <p>Guarantee: read-only. Every topic is read {@code read_committed} from its beginning up to the
 * {@link Watermark}'s end offsets, taken before the job starts; the tables are read as of the
 * job's run. The join is a keyed reduce by event id, so in batch mode records are sorted by id
 * (spilling to disk) and one id's evidence at a time is in memory: memory stays flat as the input
 * grows, and no topic is ever held in one JVM. Only ids that are not cleanly done, a count per
 * class, accounts whose balance differs from their ledger sum, and target records of ids the input
 * never held reach the client.
 *
 * <p>Periodic mode ({@link ReconcileState}): after a first full run, each topic is read from the
 * last run's end offsets, the Kafka evidence of the ids the last run did not settle is merged in,
 * and an id with a ledger row committed before the last run ({@link PgSnapshot}) counts as settled
 * earlier; docs/reconcile.md gives the argument that no id's evidence is lost between windows.
 *
 * <p>Savepoint compatibility: none needed. The job is bounded and never restores state; its uids
 * are stable all the same.
 *
 * <p>The ledger and the gateway's charge table are read in parallel by {@link HashRangeJdbcSource}
 * (FLIP-27), one split per hash range of the primary key; it says why not
 * {@code flink-connector-jdbc-core}'s {@code JdbcSource}.
 */
public final class ReconcileJob {
    public static final String INPUT_UID = "reconcile-input";
    public static final String OUTPUT_UID = "reconcile-output";
    public static final String DLQ_UID = "reconcile-dlq";
    public static final String LEDGER_UID = "reconcile-ledger";
    public static final String BALANCES_UID = "reconcile-balances";
    public static final String CHARGES_UID = "reconcile-charges";
    public static final String ID_UID = "reconcile-by-id";
    public static final String CLASSIFY_UID = "reconcile-classify";
    public static final String COUNT_UID = "reconcile-count";
    public static final String LEDGER_SUMS_UID = "reconcile-ledger-sums";
    public static final String ACCOUNT_UID = "reconcile-by-account";
    public static final String BALANCE_CHECK_UID = "reconcile-balance-check";
    public static final String CARRIED_UID = "reconcile-carried";
    public static final String READ_UID = "reconcile-read-";

    /** Sources whose records read are counted (accumulator {@code reconcile.read.<source>}). */
    public static final List<String> SOURCES = List.of("input", "output", "dlq", "ledger", "charges", "carried");

    /** Hash ranges per subtask when reading a table: a little more than one, so a slow range does not stall the rest. */
    private static final int SPLITS_PER_SUBTASK = 2;

    private ReconcileJob() {}

    /** {@code flink run -c io.stagewise.jobs.reconcile.ReconcileJob <cluster jar> <flags>}: the flags of {@code stagewise reconcile}. */
    public static void main(String[] args) {
        int exit = new CommandLine(new Main()).execute(args);
        if (exit != 0) {
            System.exit(exit);
        }
    }

    /** The job's command line; user errors print one line and exit 2, discrepancies exit 1. */
    @Command(name = "reconcile", mixinStandardHelpOptions = true,
            description = "Compare the input topic with the output topic, DLQ, ledger and gateway charges; report and repair.")
    static final class Main implements Callable<Integer> {
        @Mixin
        ReconcileFlags flags;

        @Override
        public Integer call() {
            try {
                return flags.execute(new PrintWriter(System.out, true));
            } catch (StagewiseException e) {
                System.err.println("stagewise: " + e.getMessage());
                return 2;
            }
        }
    }

    /**
     * Assembles the job on {@code env} (set to batch execution mode) and returns its findings.
     *
     * @param charges the gateway's effective charges per payment id when they came over HTTP
     *     ({@code GET /audit/charges}); null when read from {@code --gateway-jdbc-url} or not at all
     * @param periodic periodic mode: what the last run left (empty in a full run). After a first
     *     run, the topics are read from the watermark's start offsets, the carried ids' evidence is
     *     merged in, and the job reports which ids to carry on ({@link Finding.Kind#CARRY})
     */
    public static DataStream<Finding> build(StreamExecutionEnvironment env, ReconcileSettings settings,
                                            Watermark watermark, Map<String, Integer> charges,
                                            Optional<ReconcileState.Previous> periodic) {
        env.setRuntimeMode(RuntimeExecutionMode.BATCH);
        boolean windowed = watermark.windowed();
        DataStream<Tally> tallies = kafka(env, settings, settings.inputTopic(), watermark,
                new RecordTallies.Input(settings.maxEventBytes()), INPUT_UID, "Input (read committed)", "input")
                .union(kafka(env, settings, settings.outputTopic(), watermark, new RecordTallies.Output(), OUTPUT_UID,
                                "Output (read committed)", "output"),
                        kafka(env, settings, settings.dlqTopic(), watermark, new RecordTallies.DeadLetters(), DLQ_UID,
                                "DLQ (read committed)", "dlq"));
        if (periodic.isPresent() && periodic.get().carried() > 0) {
            tallies = tallies.union(env.fromSource(new HashRangeJdbcSource<>(periodic.get().database(),
                            ReconcileState.carriedQuery(settings.inputTopic()), settings.parallelism() * SPLITS_PER_SUBTASK,
                            ReconcileState::carriedRow, TypeInformation.of(Tally.class)),
                            WatermarkStrategy.noWatermarks(), "Carried ids (" + ReconcileState.CARRY + ")")
                    .uid(CARRIED_UID).name("Carried ids (" + ReconcileState.CARRY + ")")
                    .map(new CountRead<>("carried")).uid(READ_UID + "carried").name("Count carried"));
        }
        List<DataStream<Finding>> results = new ArrayList<>();
        if (settings.ledger().isPresent()) {
            PaymentsLedger.Database db = settings.ledger().get();
            int splits = settings.parallelism() * SPLITS_PER_SUBTASK;
            // Whether a row was committed before the last run: only then may it stand for an id settled earlier.
            String before = periodic.flatMap(ReconcileState.Previous::ledgerSnapshot).filter(s -> windowed)
                    .map(PgSnapshot::visibleSql).orElse("false");
            DataStream<LedgerRow> ledger = env.fromSource(new HashRangeJdbcSource<>(db, HashRangeJdbcSource.byHash(
                            "SELECT payment_id, event_id, account, amount, " + before + " FROM " + LedgerWriter.LEDGER_TABLE,
                            "payment_id", null),
                            splits, LedgerRow::read, TypeInformation.of(LedgerRow.class)),
                            WatermarkStrategy.noWatermarks(), "Ledger (PostgreSQL)")
                    .uid(LEDGER_UID).name("Ledger (PostgreSQL)")
                    .map(new CountRead<>("ledger")).uid(READ_UID + "ledger").name("Count ledger rows");
            tallies = tallies.union(ledger.map(LedgerRow::tally).uid(LEDGER_SUMS_UID + "-ids").name("Ledger rows by event id"));
            DataStream<AccountTally> balances = env.fromSource(new HashRangeJdbcSource<>(db, HashRangeJdbcSource.byHash(
                            "SELECT account, balance FROM " + LedgerWriter.BALANCES_TABLE, "account", null),
                            splits, AccountTally::balanceRow, TypeInformation.of(AccountTally.class)),
                            WatermarkStrategy.noWatermarks(), "Balances (PostgreSQL)")
                    .uid(BALANCES_UID).name("Balances (PostgreSQL)");
            results.add(ledger.map(AccountTally::ledgerRow).uid(LEDGER_SUMS_UID).name("Ledger amounts by account")
                    .union(balances)
                    .keyBy(a -> a.account)
                    .reduce(AccountTally::merge).uid(ACCOUNT_UID).name("Sum by account")
                    .flatMap(new BalanceCheck()).uid(BALANCE_CHECK_UID).name("Balance = sum(ledger)"));
        }
        if (settings.gatewayJdbcUrl().isPresent()) {
            tallies = tallies.union(env.fromSource(new HashRangeJdbcSource<>(
                            new PaymentsLedger.Database(settings.gatewayJdbcUrl().get(), null, null),
                            HashRangeJdbcSource.byHash("SELECT payment_id, count(*) FROM gateway_charges", "payment_id", "payment_id"),
                            settings.parallelism() * SPLITS_PER_SUBTASK, ReconcileJob::chargeRow,
                            TypeInformation.of(Tally.class)), WatermarkStrategy.noWatermarks(), "Gateway charges (PostgreSQL)")
                    .uid(CHARGES_UID).name("Gateway charges (PostgreSQL)")
                    .map(new CountRead<>("charges")).uid(READ_UID + "charges").name("Count charges"));
        } else if (charges != null) {
            List<Tally> rows = new ArrayList<>();
            charges.forEach((id, n) -> {
                Tally tally = Tally.of(id);
                tally.charges = n;
                rows.add(tally);
            });
            tallies = tallies.union(env.fromData(rows, TypeInformation.of(Tally.class))
                    .uid(CHARGES_UID).name("Gateway charges (GET /audit/charges)"));
        }
        DataStream<Finding> perId = tallies
                .keyBy(t -> t.id)
                .reduce(Tally::merge).uid(ID_UID).name("Join by event id")
                .flatMap(new Classify(new Classification.Scope(settings.ledger().isPresent(), settings.chargesKnown()),
                        watermark.at() - settings.settle().toMillis(), windowed, periodic.isPresent()))
                .uid(CLASSIFY_UID).name("Classify");
        results.add(perId.filter(f -> f.kind == Finding.Kind.ID && f.idClass != IdClass.COMPLETED
                        && f.idClass != IdClass.DEAD_LETTERED || f.kind == Finding.Kind.STRAY || f.kind == Finding.Kind.CARRY)
                .uid(CLASSIFY_UID + "-findings").name("Not cleanly done"));
        results.add(perId.filter(f -> f.kind == Finding.Kind.ID).uid(COUNT_UID + "-ids").name("Ids")
                .map(f -> Finding.count(f.idClass, 1)).uid(COUNT_UID + "-one").name("One per id")
                .keyBy(f -> f.idClass.name())
                .reduce((a, b) -> Finding.count(a.idClass, a.count + b.count)).uid(COUNT_UID).name("Count per class"));
        DataStream<Finding> all = results.get(0);
        for (DataStream<Finding> more : results.subList(1, results.size())) {
            all = all.union(more);
        }
        return all;
    }

    /**
     * A bounded, {@code read_committed} source of {@code topic}: from the watermark's start offsets
     * (periodic mode) or the beginning, to its end offsets. The extra client properties go in first,
     * so what the reconciliation must set wins over them.
     */
    static KafkaSource<Tally> kafkaSource(ReconcileSettings settings, String topic, Watermark watermark,
                                          KafkaRecordDeserializationSchema<Tally> deserializer) {
        return KafkaSource.<Tally>builder()
                .setProperties(settings.kafkaClientProperties())
                .setBootstrapServers(settings.bootstrapServers())
                .setTopics(topic)
                .setGroupId("stagewise-reconcile-" + topic)
                .setStartingOffsets(watermark.windowed()
                        ? OffsetsInitializer.offsets(watermark.startingOffsets(topic), OffsetResetStrategy.EARLIEST)
                        : OffsetsInitializer.earliest())
                .setBounded(OffsetsInitializer.offsets(watermark.stoppingOffsets(topic)))
                .setDeserializer(deserializer)
                .setProperty("isolation.level", "read_committed")
                .setProperty("enable.auto.commit", "false")
                .setProperty("commit.offsets.on.checkpoint", "false")
                .build();
    }

    private static DataStream<Tally> kafka(StreamExecutionEnvironment env, ReconcileSettings settings, String topic,
                                           Watermark watermark, KafkaRecordDeserializationSchema<Tally> deserializer,
                                           String uid, String name, String source) {
        return env.fromSource(kafkaSource(settings, topic, watermark, deserializer), WatermarkStrategy.noWatermarks(), name)
                .uid(uid).name(name)
                .map(new CountRead<>(source)).uid(READ_UID + source).name("Count " + source);
    }

    /** Passes records on and counts them in accumulator {@code reconcile.read.<source>}: what the run read. */
    static final class CountRead<T> extends RichMapFunction<T, T> {
        private static final long serialVersionUID = 1L;
        private final String source;
        private transient LongCounter read;

        CountRead(String source) {
            this.source = source;
        }

        static String accumulator(String source) {
            return "reconcile.read." + source;
        }

        @Override
        public void open(OpenContext openContext) {
            read = getRuntimeContext().getLongCounter(accumulator(source));
        }

        @Override
        public T map(T value) {
            read.add(1L);
            return value;
        }
    }

    private static Tally chargeRow(ResultSet row) throws SQLException {
        Tally tally = Tally.of(row.getString(1));
        tally.charges = row.getInt(2);
        return tally;
    }

    /**
     * One id's joined evidence, classified; ids the input never held become strays. Counts ids per
     * class as Flink metrics ({@code stagewise.reconcile.<class>}, plus {@code notFromInput}).
     */
    static final class Classify extends RichFlatMapFunction<Tally, Finding> {
        private static final long serialVersionUID = 1L;
        private final Classification.Scope scope;
        private final long settledBefore;
        private final boolean windowed;
        private final boolean periodic;
        private transient Map<IdClass, Counter> perClass;
        private transient Counter strays;

        /**
         * @param windowed the topics are read from the last periodic run's end offsets: an id with no
         *     evidence in this window that no run carried was settled earlier and is skipped; one with a
         *     ledger row older than the last run was completed earlier (docs/reconcile.md)
         * @param periodic emit {@link Finding.Kind#CARRY} for the ids the next run must carry
         */
        Classify(Classification.Scope scope, long settledBefore, boolean windowed, boolean periodic) {
            this.scope = scope;
            this.settledBefore = settledBefore;
            this.windowed = windowed;
            this.periodic = periodic;
        }

        @Override
        public void open(OpenContext openContext) {
            MetricGroup group = getRuntimeContext().getMetricGroup().addGroup("stagewise").addGroup("reconcile");
            perClass = new EnumMap<>(IdClass.class);
            for (IdClass idClass : IdClass.values()) {
                perClass.put(idClass, group.counter(idClass.label()));
            }
            strays = group.counter("notFromInput");
        }

        @Override
        public void flatMap(Tally joined, Collector<Finding> out) {
            Tally tally = joined;
            if (windowed && !tally.carried) {
                if (!tally.window) {
                    return; // settled by an earlier run, nothing new since
                }
                if (tally.ledgerRowsBefore > 0) {
                    tally = tally.withCompletedBefore();
                }
            }
            IdFacts facts = tally.facts();
            Finding finding = new Finding();
            finding.id = facts.id;
            finding.evidence = facts.evidence();
            finding.partition = facts.originalPartition;
            finding.offset = facts.originalOffset;
            finding.repairs = facts.repairs;
            finding.repairOf = facts.lastRepairOf;
            finding.deadLetters = facts.deadLetters;
            if (facts.inputs == 0) {
                if (facts.outputs > 0 || facts.ledgerRows > 0 || facts.charges > 0) {
                    finding.kind = Finding.Kind.STRAY;
                    strays.inc();
                    out.collect(finding);
                    carry(tally, null, out);
                }
                return;
            }
            finding.kind = Finding.Kind.ID;
            finding.idClass = Classification.classify(facts, scope, facts.newestInputAt > settledBefore);
            perClass.get(finding.idClass).inc();
            out.collect(finding);
            carry(tally, finding.idClass, out);
        }

        /** Periodic mode: every id not completed is carried on; a carried id now completed is dropped. */
        private void carry(Tally tally, IdClass idClass, Collector<Finding> out) {
            if (!periodic || (idClass == IdClass.COMPLETED && !tally.carried)) {
                return;
            }
            Finding carry = new Finding();
            carry.kind = Finding.Kind.CARRY;
            carry.id = tally.id;
            carry.idClass = idClass;
            carry.tally = idClass == IdClass.COMPLETED ? null : tally.carry();
            out.collect(carry);
        }
    }

    /** Accounts whose balance differs from the sum of their ledger amounts (invariant (2)). */
    static final class BalanceCheck implements FlatMapFunction<AccountTally, Finding> {
        private static final long serialVersionUID = 1L;

        @Override
        public void flatMap(AccountTally account, Collector<Finding> out) {
            BigDecimal sum = account.ledgerSum == null ? BigDecimal.ZERO : account.ledgerSum;
            boolean differs = account.balance == null ? sum.signum() != 0 : account.balance.compareTo(sum) != 0;
            if (differs) {
                Finding finding = new Finding();
                finding.kind = Finding.Kind.BALANCE;
                finding.account = account.account;
                finding.balance = account.balance;
                finding.ledgerSum = sum;
                out.collect(finding);
            }
        }
    }
}
