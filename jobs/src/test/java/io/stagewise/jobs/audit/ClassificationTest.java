package io.stagewise.jobs.audit;

import static org.assertj.core.api.Assertions.assertThat;

import io.stagewise.jobs.audit.Classification.IdClass;
import io.stagewise.jobs.audit.Classification.Scope;
import org.junit.jupiter.api.Test;

/** The per-id classes of docs/reconcile.md, from the evidence alone. */
class ClassificationTest {
    private static final Scope ALL = new Scope(true, true);

    private static IdFacts facts(int outputs, int ledgerRows, int deadLetters, int charges) {
        IdFacts facts = new IdFacts("pay-1");
        facts.inputs = 1;
        facts.outputs = outputs;
        facts.ledgerRows = ledgerRows;
        facts.deadLetters = deadLetters;
        facts.charges = charges;
        return facts;
    }

    @Test
    void cleanOutcomes() {
        assertThat(Classification.classify(facts(1, 1, 0, 1), ALL, false)).isEqualTo(IdClass.COMPLETED);
        assertThat(Classification.classify(facts(0, 0, 1, 0), ALL, false)).isEqualTo(IdClass.DEAD_LETTERED);
        IdFacts pastCharge = facts(0, 0, 1, 1);
        pastCharge.chargedDeadLetter = true;
        assertThat(Classification.classify(pastCharge, ALL, false)).isEqualTo(IdClass.DEAD_LETTERED);
        // Clean ids stay clean inside the settle window.
        assertThat(Classification.classify(facts(1, 1, 0, 1), ALL, true)).isEqualTo(IdClass.COMPLETED);
    }

    @Test
    void foundNowhereIsMissingOnceSettledAndInFlightBefore() {
        assertThat(Classification.classify(facts(0, 0, 0, 1), ALL, false)).isEqualTo(IdClass.MISSING);
        assertThat(Classification.classify(facts(0, 0, 0, 0), ALL, true)).isEqualTo(IdClass.IN_FLIGHT);
        assertThat(Classification.classify(facts(1, 0, 0, 1), ALL, true)).isEqualTo(IdClass.IN_FLIGHT);
    }

    @Test
    void discrepancies() {
        assertThat(Classification.classify(facts(1, 0, 0, 1), ALL, false)).isEqualTo(IdClass.CHARGED_NOT_RECORDED);
        assertThat(Classification.classify(facts(1, 0, 0, 0), ALL, false)).isEqualTo(IdClass.OUTPUT_WITHOUT_LEDGER);
        assertThat(Classification.classify(facts(0, 1, 0, 1), ALL, false)).isEqualTo(IdClass.LEDGER_WITHOUT_OUTPUT);
        assertThat(Classification.classify(facts(1, 1, 0, 0), ALL, false)).isEqualTo(IdClass.RECORDED_NOT_CHARGED);
        assertThat(Classification.classify(facts(1, 2, 0, 1), ALL, false)).isEqualTo(IdClass.DUPLICATED);
        assertThat(Classification.classify(facts(2, 1, 0, 1), ALL, false)).isEqualTo(IdClass.DUPLICATED);
        assertThat(Classification.classify(facts(1, 1, 0, 2), ALL, false)).isEqualTo(IdClass.DUPLICATED);
        assertThat(Classification.classify(facts(1, 1, 1, 1), ALL, true)).isEqualTo(IdClass.DUPLICATED);
        assertThat(Classification.classify(facts(0, 0, 1, 1), ALL, false)).isEqualTo(IdClass.CHARGED_NOT_RECORDED);
    }

    @Test
    void aTargetNotReadDecidesNothing() {
        Scope topicsOnly = new Scope(false, false);
        assertThat(Classification.classify(facts(1, 0, 0, 0), topicsOnly, false)).isEqualTo(IdClass.COMPLETED);
        assertThat(Classification.classify(facts(1, 0, 0, 5), topicsOnly, false)).isEqualTo(IdClass.COMPLETED);
        assertThat(Classification.classify(facts(0, 0, 0, 0), topicsOnly, false)).isEqualTo(IdClass.MISSING);
    }

    @Test
    void onlyMissingAndChargedNotRecordedAreRepairable() {
        for (IdClass idClass : IdClass.values()) {
            assertThat(idClass.isRepairable())
                    .isEqualTo(idClass == IdClass.MISSING || idClass == IdClass.CHARGED_NOT_RECORDED);
        }
    }
}
