package io.stagewise.jobs.payments.ledger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.math.BigDecimal;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class LedgerEntrySerializerTest {
    private static final LedgerEntry ENTRY = new LedgerEntry("pay-1", "evt-1", "acct-7", new BigDecimal("12.50"), "EUR",
            "ch_1", Instant.parse("2026-11-27T18:00:00.123456789Z"));
    private static final LedgerEntry SPARSE = new LedgerEntry("pay-2", "evt-2", "acct-8", new BigDecimal("-0.0001"), "USD",
            null, Instant.EPOCH);

    @Test
    void roundTripKeepsEveryFieldAndNulls() throws IOException {
        LedgerEntrySerializer serializer = new LedgerEntrySerializer();
        for (LedgerEntry e : List.of(ENTRY, SPARSE, new LedgerEntry())) {
            LedgerEntry back = serializer.deserialize(1, serializer.serialize(e));
            assertThat(back).isEqualTo(e);
            assertThat(back.amount == null ? null : back.amount.scale()).isEqualTo(e.amount == null ? null : e.amount.scale());
        }
        assertThatThrownBy(() -> serializer.deserialize(7, serializer.serialize(ENTRY)))
                .isInstanceOf(IOException.class).hasMessageContaining("version 7");
    }
}
