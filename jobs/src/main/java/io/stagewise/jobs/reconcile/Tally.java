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
        return m;
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
