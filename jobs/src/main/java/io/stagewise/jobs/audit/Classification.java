package io.stagewise.jobs.audit;

import java.io.Serializable;

/**
 * What "exactly once" means for one event id (docs/audit.md, docs/reconcile.md): the one place that
 * decides, called by the in-process {@link Audit} and by the reconcile job
 * ({@code io.stagewise.jobs.reconcile.ReconcileJob}).
 *
 * <p>An id is in exactly one class. The order of the rules is the precedence: a duplicate anywhere
 * wins; an id younger than the settle window that is not cleanly done is {@link IdClass#IN_FLIGHT}
 * (the pipeline may still finish it: a retry ladder step, a checkpoint not yet committed); then an
 * id found nowhere is {@link IdClass#MISSING}, and so on.
 */
public final class Classification {
    private Classification() {}

    /** The classes of docs/reconcile.md; only {@link #COMPLETED} and {@link #DEAD_LETTERED} are clean. */
    public enum IdClass {
        COMPLETED("completed"),
        DEAD_LETTERED("dead-lettered"),
        IN_FLIGHT("in-flight"),
        /** Accepted by the input, found in none of output, ledger, DLQ. Repairable. */
        MISSING("MISSING"),
        /** More than one output record, ledger row, unresolved dead letter or effective charge, or done and dead-lettered. */
        DUPLICATED("DUPLICATED"),
        /** An effective charge and an output record, but no ledger row and no dead letter. Repairable. */
        CHARGED_NOT_RECORDED("CHARGED-NOT-RECORDED"),
        /** A ledger row (or a dead letter past charge) without an effective charge. */
        RECORDED_NOT_CHARGED("RECORDED-NOT-CHARGED"),
        /** An output record without a ledger row, and no charge to show for it. */
        OUTPUT_WITHOUT_LEDGER("OUTPUT-WITHOUT-LEDGER"),
        /** A ledger row without an output record. */
        LEDGER_WITHOUT_OUTPUT("LEDGER-WITHOUT-OUTPUT");

        private final String label;

        IdClass(String label) {
            this.label = label;
        }

        public String label() {
            return label;
        }

        public boolean isDiscrepancy() {
            return this != COMPLETED && this != DEAD_LETTERED && this != IN_FLIGHT;
        }

        /**
         * Re-injecting the original input record lets the pipeline finish the id once: its dedup,
         * stage records and idempotency keys make a repeat harmless.
         */
        public boolean isRepairable() {
            return this == MISSING || this == CHARGED_NOT_RECORDED;
        }
    }

    /** Which targets were read: a class that needs an unread target is never decided. */
    public record Scope(boolean ledger, boolean charges) implements Serializable {}

    /** Invariant (1): the places an id is in, output and unresolved dead letters; exactly one is right. */
    public static int places(IdFacts facts) {
        return facts.outputs + facts.deadLetters;
    }

    /**
     * Invariant (3): the effective charges the id must have: one when it completed (output or
     * ledger row) or was dead-lettered after its charge stage, none otherwise.
     */
    public static int expectedCharges(IdFacts facts) {
        return facts.outputs > 0 || facts.ledgerRows > 0 || facts.chargedDeadLetter ? 1 : 0;
    }

    /**
     * @param young the id's newest input record is within the settle window (retry ladder total
     *     delay plus checkpoint interval) of the reconcile watermark
     */
    public static IdClass classify(IdFacts facts, Scope scope, boolean young) {
        if (places(facts) > 1 || facts.ledgerRows > 1 || (facts.ledgerRows > 0 && facts.deadLetters > 0)
                || (scope.charges() && facts.charges > 1)) {
            return IdClass.DUPLICATED;
        }
        IdClass settled = settled(facts, scope);
        return young && settled != IdClass.COMPLETED && settled != IdClass.DEAD_LETTERED ? IdClass.IN_FLIGHT : settled;
    }

    private static IdClass settled(IdFacts facts, Scope scope) {
        if (facts.outputs == 0 && facts.ledgerRows == 0 && facts.deadLetters == 0) {
            return IdClass.MISSING;
        }
        boolean chargeMismatch = scope.charges() && facts.charges != expectedCharges(facts);
        if (facts.deadLetters == 1) {
            if (!chargeMismatch) {
                return IdClass.DEAD_LETTERED;
            }
            return facts.charges > 0 ? IdClass.CHARGED_NOT_RECORDED : IdClass.RECORDED_NOT_CHARGED;
        }
        if (scope.ledger() && facts.ledgerRows == 0) {
            return scope.charges() && facts.charges > 0 ? IdClass.CHARGED_NOT_RECORDED : IdClass.OUTPUT_WITHOUT_LEDGER;
        }
        if (scope.ledger() && facts.outputs == 0) {
            return IdClass.LEDGER_WITHOUT_OUTPUT;
        }
        if (chargeMismatch) {
            return IdClass.RECORDED_NOT_CHARGED;
        }
        return IdClass.COMPLETED;
    }
}
