package io.stagewise.cli.dlq;

import static org.assertj.core.api.Assertions.assertThat;

import io.stagewise.operators.event.FailureReason;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The table, ages and escaping of {@code dlq list} and {@code dlq show}. */
class DlqFormatTest {
    private static final Instant NOW = Instant.parse("2026-11-27T20:00:00Z");

    @Test
    void agesAreShortAndHuman() {
        assertThat(DeadLetterFormat.age(Optional.of(NOW.minusSeconds(45).toEpochMilli()), NOW)).isEqualTo("45s");
        assertThat(DeadLetterFormat.age(Optional.of(NOW.minusSeconds(12 * 60 + 5).toEpochMilli()), NOW)).isEqualTo("12m 5s");
        assertThat(DeadLetterFormat.age(Optional.of(NOW.minusSeconds(3 * 3600 + 5 * 60).toEpochMilli()), NOW)).isEqualTo("3h 5m");
        assertThat(DeadLetterFormat.age(Optional.of(NOW.minusSeconds(2 * 86400 + 4 * 3600).toEpochMilli()), NOW)).isEqualTo("2d 4h");
        assertThat(DeadLetterFormat.age(Optional.of(NOW.plusSeconds(5).toEpochMilli()), NOW)).isEqualTo("0s");
        assertThat(DeadLetterFormat.age(Optional.empty(), NOW)).isEqualTo("-");
    }

    @Test
    void controlCharactersAndInvalidUtf8AreEscaped() {
        assertThat(DeadLetterFormat.escape("a\nb\t\u001b[31mc\\")).isEqualTo("a\\nb\\t\\u001b[31mc\\\\");
        assertThat(DeadLetterFormat.escape(new byte[] {'{', (byte) 0xff, 'x', 0})).isEqualTo("{\\xffx\\x00");
        assertThat(DeadLetterFormat.escape("zürich €".getBytes(StandardCharsets.UTF_8))).isEqualTo("zürich €");
        assertThat(DeadLetterFormat.escape((byte[]) null)).isEqualTo("(null)");
    }

    @Test
    void onlyJsonObjectsAndArraysArePrettyPrinted() {
        assertThat(DeadLetterFormat.prettyJson("{\"a\":{\"b\":1}}".getBytes(StandardCharsets.UTF_8)))
                .contains("{\n  \"a\" : {\n    \"b\" : 1\n  }\n}");
        assertThat(DeadLetterFormat.prettyJson("{not json".getBytes(StandardCharsets.UTF_8))).isEmpty();
        assertThat(DeadLetterFormat.prettyJson("42".getBytes(StandardCharsets.UTF_8))).isEmpty();
        assertThat(DeadLetterFormat.prettyJson(new byte[] {(byte) 0xc3})).isEmpty();
    }

    @Test
    void theTableHasOneAlignedRowPerDeadLetter() {
        DeadLetterRecord letter = DlqSelectionTest.record("pay-1", FailureReason.PERMANENT, "charge", "2026-11-27T18:00:00Z");

        List<String> table = DeadLetterFormat.table(List.of(letter), NOW);

        assertThat(table).hasSize(2);
        assertThat(table.get(0)).startsWith("EVENT ID  STAGE   REASON     RETRIES  AGE    ORIGIN        DLQ               MESSAGE");
        assertThat(table.get(1)).startsWith("pay-1     charge  permanent  1        2h 0m  payments/0/7  payments.dlq/0/3")
                .endsWith("permanent failure of pay-1 at charge");
    }

    @Test
    void theSummaryCountsByHourReasonAndStage() {
        List<DeadLetterRecord> letters = List.of(
                DlqSelectionTest.record("pay-1", FailureReason.PERMANENT, "charge", "2026-11-27T18:05:00Z"),
                DlqSelectionTest.record("pay-2", FailureReason.PERMANENT, "charge", "2026-11-27T18:59:59Z"),
                DlqSelectionTest.record("pay-3", FailureReason.EXHAUSTED, "charge", "2026-11-27T18:30:00Z"),
                DlqSelectionTest.record("pay-4", FailureReason.PERMANENT, "charge", "2026-11-27T19:00:00Z"),
                DlqSelectionTest.record("", FailureReason.MALFORMED, "ingest", "2026-11-27T18:10:00Z"));

        List<DeadLetterSummary.Row> rows = DeadLetterSummary.of(letters);

        assertThat(rows).containsExactly(
                new DeadLetterSummary.Row(Instant.parse("2026-11-27T18:00:00Z"), "exhausted", "charge", 1),
                new DeadLetterSummary.Row(Instant.parse("2026-11-27T18:00:00Z"), "malformed", "ingest", 1),
                new DeadLetterSummary.Row(Instant.parse("2026-11-27T18:00:00Z"), "permanent", "charge", 2),
                new DeadLetterSummary.Row(Instant.parse("2026-11-27T19:00:00Z"), "permanent", "charge", 1));
        assertThat(DeadLetterSummary.table(rows)).containsExactly(
                "HOUR (UTC)         REASON     STAGE   COUNT",
                "2026-11-27 18:00Z  exhausted  charge      1",
                "2026-11-27 18:00Z  malformed  ingest      1",
                "2026-11-27 18:00Z  permanent  charge      2",
                "2026-11-27 19:00Z  permanent  charge      1");
    }
}
