package io.stagewise.jobs.reconcile;

import io.stagewise.jobs.audit.Classification.IdClass;
import java.math.BigDecimal;

/**
 * One row of the reconcile job's result, as the client collects it: an id that is not cleanly
 * done ({@link Kind#ID}), the number of ids in a class ({@link Kind#COUNT}), an account whose
 * balance differs from its ledger sum ({@link Kind#BALANCE}), or a record in a target whose id
 * the input never held ({@link Kind#STRAY}), or, in periodic mode, an id the next run carries
 * ({@link Kind#CARRY}, with its Kafka evidence in {@link #tally}; with {@code idClass} completed and
 * no tally: a carried id that is settled now). A POJO: never Kryo.
 */
public class Finding {
    /** What a finding reports. */
    public enum Kind { ID, COUNT, BALANCE, STRAY, CARRY }

    public Kind kind;
    public IdClass idClass;
    public String id;
    public String evidence;
    public long count;
    /** The original input record, for a repair ({@code -1}: none). */
    public int partition = -1;
    public long offset = -1;
    /** Earlier repairs of the id found in the input, and the last one's {@code stagewise.repair-of}. */
    public int repairs;
    public String repairOf;
    public int deadLetters;
    public String account;
    public BigDecimal balance;
    public BigDecimal ledgerSum;
    public Tally tally;

    public Finding() {}

    static Finding count(IdClass idClass, long count) {
        Finding finding = new Finding();
        finding.kind = Kind.COUNT;
        finding.idClass = idClass;
        finding.count = count;
        return finding;
    }

    @Override
    public String toString() {
        switch (kind) {
            case COUNT:
                return idClass.label() + ": " + count;
            case BALANCE:
                return "account " + account + ": balance " + (balance == null ? "(no row)" : balance.toPlainString())
                        + " != sum(ledger.amount) " + ledgerSum.toPlainString();
            default:
                return (idClass == null ? "not from the input" : idClass.label()) + " " + id + " (" + evidence + ")";
        }
    }
}
