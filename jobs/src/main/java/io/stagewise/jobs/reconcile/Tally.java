package io.stagewise.jobs.reconcile;

import io.stagewise.jobs.audit.IdFacts;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;

/**
 * What one record (or, after {@link #merge}, all records) of one event id contributes: the value
 * the reconcile job reduces per id. A POJO for Flink's POJO serializer (never Kryo); string
 * fields stand in for sets so no generic type reaches state.
 *
 * <p>Savepoint compatibility: used only by the bounded reconcile job, which never restores state.
 */
public class Tally {
    private static final String SEPARATOR = " ";

    public String id;
    public int inputs;
    public long newestInputAt = Long.MIN_VALUE;
    public int originalPartition = -1;
    public long originalOffset = -1;
    public long originalAt = Long.MAX_VALUE;
    public int repairs;
    public String lastRepairOf;
    public int outputs;
    /** DLQ coordinates ({@code topic/partition/offset}) of the id's valid dead letters, space separated. */
    public String letters;
    public boolean chargedLetter;
    /** {@code stagewise.replay-of} values of the id's input records, space separated. */
    public String replays;
    public int ledgerRows;
    public String ledgerPaymentIds;
    public int charges;
    /** Periodic mode: ledger rows of the id that were committed before the previous run's snapshot. */
    public int ledgerRowsBefore;
    /** Periodic mode: evidence of this run's window (a Kafka record read now, a ledger row committed since the last run). */
    public boolean window;
    /** Periodic mode: the id's Kafka evidence carried from earlier runs ({@link ReconcileState}). */
    public boolean carried;

    public Tally() {}

    static Tally of(String id) {
        Tally tally = new Tally();
        tally.id = id;
        return tally;
    }

    /** Both tallies of one id in one; neither argument is changed. */
    public static Tally merge(Tally a, Tally b) {
        Tally m = of(a.id);
        m.inputs = a.inputs + b.inputs;
        m.newestInputAt = Math.max(a.newestInputAt, b.newestInputAt);
        Tally original = b.originalAt < a.originalAt
                || (b.originalAt == a.originalAt && b.originalPartition >= 0 && a.originalPartition < 0) ? b : a;
        m.originalPartition = original.originalPartition;
        m.originalOffset = original.originalOffset;
        m.originalAt = original.originalAt;
        m.repairs = a.repairs + b.repairs;
        m.lastRepairOf = b.lastRepairOf != null ? b.lastRepairOf : a.lastRepairOf;
        m.outputs = a.outputs + b.outputs;
        m.letters = join(a.letters, b.letters);
        m.chargedLetter = a.chargedLetter || b.chargedLetter;
        m.replays = join(a.replays, b.replays);
        m.ledgerRows = a.ledgerRows + b.ledgerRows;
        m.ledgerPaymentIds = a.ledgerPaymentIds == null ? b.ledgerPaymentIds
                : b.ledgerPaymentIds == null ? a.ledgerPaymentIds : a.ledgerPaymentIds + "," + b.ledgerPaymentIds;
        m.charges = a.charges + b.charges;
        m.ledgerRowsBefore = a.ledgerRowsBefore + b.ledgerRowsBefore;
        m.window = a.window || b.window;
        m.carried = a.carried || b.carried;
        return m;
    }

    /**
     * The Kafka evidence of this id, to carry into the next periodic run: the tables are read again
     * by every run, so their evidence is left out (it would count twice).
     */
    Tally carry() {
        Tally c = merge(this, of(id));
        c.ledgerRows = 0;
        c.ledgerPaymentIds = null;
        c.ledgerRowsBefore = 0;
        c.charges = 0;
        c.window = false;
        c.carried = true;
        return c;
    }

    /**
     * Periodic mode: an id no run carried, with a ledger row older than the last run, was found
     * {@code completed} by an earlier run (every other class is carried), so before this window it
     * had an input record and one output record, and no unresolved dead letter. Adds that evidence.
     */
    Tally withCompletedBefore() {
        Tally before = of(id);
        before.inputs = 1;
        before.outputs = 1;
        return merge(this, before);
    }

    /**
     * The evidence {@code io.stagewise.jobs.audit.Classification} decides on. A dead letter whose
     * coordinates a replay in the input names is resolved (the replay's outcome is where the id is
     * now), as in the audit's invariant (1).
     */
    public IdFacts facts() {
        IdFacts facts = new IdFacts(id);
        facts.inputs = inputs;
        facts.newestInputAt = newestInputAt;
        facts.originalPartition = originalPartition;
        facts.originalOffset = originalOffset;
        facts.originalAt = originalAt;
        facts.repairs = repairs;
        facts.lastRepairOf = lastRepairOf;
        facts.outputs = outputs;
        Set<String> replayed = replays == null ? Set.of() : new HashSet<>(Arrays.asList(replays.split(SEPARATOR)));
        if (letters != null) {
            for (String letter : letters.split(SEPARATOR)) {
                if (!replayed.contains(letter)) {
                    facts.deadLetters++;
                }
            }
        }
        facts.chargedDeadLetter = chargedLetter;
        facts.ledgerRows = ledgerRows;
        facts.ledgerPaymentIds = ledgerPaymentIds;
        facts.charges = charges;
        return facts;
    }

    private static String join(String a, String b) {
        return a == null ? b : b == null ? a : a + SEPARATOR + b;
    }
}
