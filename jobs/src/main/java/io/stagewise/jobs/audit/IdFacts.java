package io.stagewise.jobs.audit;

/**
 * What the sources and targets hold for one event id: the evidence {@link Classification} decides
 * on. A POJO (public fields, no-argument constructor) so the reconcile job keeps it in keyed state
 * with Flink's POJO serializer, never Kryo.
 *
 * <p>Savepoint compatibility: the reconcile job is a bounded batch job that never restores state,
 * so fields may change between versions freely.
 */
public class IdFacts {
    /** The event id. */
    public String id;
    /** Valid input records of the id (duplicates, DLQ replays and repairs included). */
    public int inputs;
    /** Input timestamp (epoch ms) of the newest of those records. */
    public long newestInputAt;
    /** Coordinates of the earliest original input record (not a replay or repair); -1: none seen. */
    public int originalPartition = -1;
    public long originalOffset = -1;
    public long originalAt = Long.MAX_VALUE;
    /** Input records carrying {@code stagewise.repair-of}, and the last such header value. */
    public int repairs;
    public String lastRepairOf;
    /** Records in the output topic (read committed) whose {@code stagewise.event-id} is the id. */
    public int outputs;
    /** Valid dead letters of the id that no replay in the input resolves. */
    public int deadLetters;
    /** True when one of those dead letters' progress includes the charge stage. */
    public boolean chargedDeadLetter;
    /** Ledger rows whose {@code event_id} is the id, and their payment ids (comma separated). */
    public int ledgerRows;
    public String ledgerPaymentIds;
    /** Effective charges the gateway recorded for the id. */
    public int charges;

    public IdFacts() {}

    public IdFacts(String id) {
        this.id = id;
    }

    /** One line of evidence, as the reports show it. */
    public String evidence() {
        StringBuilder out = new StringBuilder();
        out.append("input ").append(inputs).append(", output ").append(outputs).append(", dlq ").append(deadLetters);
        out.append(", ledger ").append(ledgerRows);
        if (ledgerPaymentIds != null) {
            out.append(" [").append(ledgerPaymentIds).append(']');
        }
        out.append(", charges ").append(charges);
        if (repairs > 0) {
            out.append(", repaired by ").append(lastRepairOf);
        }
        return out.toString();
    }

    @Override
    public String toString() {
        return id + ": " + evidence();
    }
}
