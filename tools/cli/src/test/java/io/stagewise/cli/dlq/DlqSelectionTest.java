package io.stagewise.cli.dlq;

import static io.stagewise.cli.dlq.TestDeadLetters.consumed;
import static io.stagewise.cli.dlq.TestDeadLetters.declinedAtCharge;
import static io.stagewise.cli.dlq.TestDeadLetters.dlqRecord;
import static io.stagewise.cli.dlq.TestDeadLetters.letter;
import static io.stagewise.cli.dlq.TestDeadLetters.payment;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stagewise.jobs.StagewiseException;
import io.stagewise.operators.event.FailureReason;
import io.stagewise.operators.event.Origin;
import io.stagewise.operators.event.StagewiseHeaders;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Parsing and validation of the selection flags, and what a selection matches. */
class DlqSelectionTest {
    private static final Instant NOW = Instant.parse("2026-11-27T20:00:00Z");

    @Test
    void reasonsAreRepeatableCommaListsInAnyCase() {
        Selection selection = Selection.builder(NOW).reasons(List.of("permanent,EXHAUSTED", " error ")).build();

        assertThat(selection.reasons()).containsExactlyInAnyOrder(FailureReason.PERMANENT, FailureReason.EXHAUSTED,
                FailureReason.ERROR);
    }

    @Test
    void anUnknownReasonNamesTheValueAndTheChoices() {
        assertThatThrownBy(() -> Selection.builder(NOW).reasons(List.of("permanent,timeout")))
                .isInstanceOf(StagewiseException.class)
                .hasMessage("unknown --reason 'timeout'; use malformed, permanent, exhausted, error");
    }

    @Test
    void emptyListEntriesAreRefused() {
        assertThatThrownBy(() -> Selection.builder(NOW).ids(List.of("pay-1,,pay-2")))
                .isInstanceOf(StagewiseException.class).hasMessageContaining("--ids has an empty value");
    }

    @Test
    void timeBoundsAreInstantsDatesOrDurationsBackFromNow() {
        assertThat(TimeBound.parse("--since", "2026-11-27T18:00:00Z", NOW)).isEqualTo(Instant.parse("2026-11-27T18:00:00Z"));
        assertThat(TimeBound.parse("--since", "2026-11-27T19:00:00+01:00", NOW)).isEqualTo(Instant.parse("2026-11-27T18:00:00Z"));
        assertThat(TimeBound.parse("--since", "2026-11-27", NOW)).isEqualTo(Instant.parse("2026-11-27T00:00:00Z"));
        assertThat(TimeBound.parse("--since", "2h", NOW)).isEqualTo(NOW.minus(Duration.ofHours(2)));
        assertThat(TimeBound.parse("--since", "30min", NOW)).isEqualTo(NOW.minus(Duration.ofMinutes(30)));
        assertThat(TimeBound.parse("--since", "90s", NOW)).isEqualTo(NOW.minusSeconds(90));
        assertThat(TimeBound.parse("--since", "7d", NOW)).isEqualTo(NOW.minus(Duration.ofDays(7)));
        assertThat(TimeBound.parse("--since", "PT2H", NOW)).isEqualTo(NOW.minus(Duration.ofHours(2)));
    }

    @Test
    void unparsableTimesSayWhichFlagAndWhatIsAccepted() {
        assertThatThrownBy(() -> TimeBound.parse("--since", "yesterday", NOW))
                .isInstanceOf(StagewiseException.class)
                .hasMessage("--since 'yesterday' is neither an ISO-8601 instant (2026-11-27T18:00:00Z) nor a duration"
                        + " back from now (30s, 15min, 2h, 7d)");
        assertThatThrownBy(() -> TimeBound.parse("--until", "2026-13-45T18:00:00Z", NOW))
                .isInstanceOf(StagewiseException.class)
                .hasMessageStartingWith("--until '2026-13-45T18:00:00Z' is not a valid ISO-8601 instant");
        assertThatThrownBy(() -> TimeBound.parse("--since", "120", NOW))
                .isInstanceOf(StagewiseException.class).hasMessageContaining("needs a unit");
        assertThatThrownBy(() -> TimeBound.parse("--since", "-2h", NOW))
                .isInstanceOf(StagewiseException.class);
        assertThatThrownBy(() -> TimeBound.parse("--since", " ", NOW))
                .isInstanceOf(StagewiseException.class);
    }

    @Test
    void anInvertedOrEmptyTimeRangeIsRefused() {
        assertThatThrownBy(() -> Selection.builder(NOW).since("2026-11-27T19:00:00Z").until("2026-11-27T18:00:00Z").build())
                .isInstanceOf(StagewiseException.class)
                .hasMessage("--since 2026-11-27T19:00:00Z (2026-11-27T19:00:00Z) must be before --until "
                        + "2026-11-27T18:00:00Z (2026-11-27T18:00:00Z): the time range is empty");
        assertThatThrownBy(() -> Selection.builder(NOW).since("1h").until("2h").build())
                .isInstanceOf(StagewiseException.class).hasMessageContaining("must be before --until");
        assertThatThrownBy(() -> Selection.builder(NOW).since("1h").until("1h").build())
                .isInstanceOf(StagewiseException.class);
        assertThat(Selection.builder(NOW).since("2h").until("1h").build().since()).contains(NOW.minusSeconds(7200));
    }

    @Test
    void allExcludesFiltersAndNoSelectionIsUnspecified() {
        assertThat(Selection.builder(NOW).build().isUnspecified()).isTrue();
        assertThat(Selection.everything(NOW).isUnspecified()).isFalse();
        assertThat(Selection.builder(NOW).stages(List.of("charge")).build().isUnspecified()).isFalse();
        assertThatThrownBy(() -> Selection.builder(NOW).all(true).reasons(List.of("permanent")).build())
                .isInstanceOf(StagewiseException.class).hasMessageContaining("--all selects every dead letter");
    }

    @Test
    void filtersCombineWithAndValuesWithOr() {
        DeadLetterRecord permanentCharge = record("pay-1", FailureReason.PERMANENT, "charge", "2026-11-27T18:00:00Z");
        DeadLetterRecord errorValidate = record("pay-2", FailureReason.ERROR, "validate", "2026-11-27T19:00:00Z");
        DeadLetterRecord malformed = record("", FailureReason.MALFORMED, "ingest", "2026-11-27T19:30:00Z");

        Selection reasons = Selection.builder(NOW).reasons(List.of("permanent,error")).build();
        Selection reasonAndStage = Selection.builder(NOW).reasons(List.of("permanent,error")).stages(List.of("validate")).build();
        Selection ids = Selection.builder(NOW).ids(List.of("pay-2", "pay-9")).build();

        assertThat(List.of(permanentCharge, errorValidate, malformed)).filteredOn(reasons::matches)
                .containsExactly(permanentCharge, errorValidate);
        assertThat(List.of(permanentCharge, errorValidate, malformed)).filteredOn(reasonAndStage::matches)
                .containsExactly(errorValidate);
        assertThat(List.of(permanentCharge, errorValidate, malformed)).filteredOn(ids::matches)
                .containsExactly(errorValidate);
    }

    @Test
    void theTimeRangeIsOnFailureAtSinceInclusiveUntilExclusive() {
        DeadLetterRecord at18 = record("pay-1", FailureReason.PERMANENT, "charge", "2026-11-27T18:00:00Z");
        DeadLetterRecord at19 = record("pay-2", FailureReason.PERMANENT, "charge", "2026-11-27T19:00:00Z");
        Map<String, String> headers = new HashMap<>(at18.headers());
        headers.remove(StagewiseHeaders.FAILURE_AT);
        DeadLetterRecord noTime = new DeadLetterRecord("payments.dlq", 0, 9, 0, null, null, headers);

        Selection range = Selection.builder(NOW).since("2026-11-27T18:00:00Z").until("2026-11-27T19:00:00Z").build();
        Selection lastHour = Selection.builder(NOW).since("1h").build();

        assertThat(range.matches(at18)).isTrue();
        assertThat(range.matches(at19)).isFalse();
        assertThat(range.matches(noTime)).isFalse();
        assertThat(lastHour.matches(at19)).isTrue();
        assertThat(lastHour.matches(at18)).isFalse();
        assertThat(Selection.everything(NOW).matches(noTime)).isTrue();
    }

    @Test
    void anUnknownReasonHeaderMatchesNoReasonFilter() {
        DeadLetterRecord odd = record("pay-1", FailureReason.PERMANENT, "charge", "2026-11-27T18:00:00Z");
        Map<String, String> headers = new HashMap<>(odd.headers());
        headers.put(StagewiseHeaders.FAILURE_REASON, "cosmic-ray");
        DeadLetterRecord strange = new DeadLetterRecord("payments.dlq", 0, 1, 0, null, null, headers);

        assertThat(strange.reason()).isEmpty();
        assertThat(Selection.builder(NOW).reasons(List.of("permanent")).build().matches(strange)).isFalse();
    }

    static DeadLetterRecord record(String id, FailureReason reason, String stage, String failedAt) {
        long at = Instant.parse(failedAt).toEpochMilli();
        return DeadLetterRecord.of(consumed(dlqRecord("payments.dlq", letter(id, "acct-1", payment(id, "acct-1", "5.00"),
                reason, stage, new Origin("payments", 0, 7, at - 1000), at, declinedAtCharge(id))), 0, 3, at));
    }
}
