package io.stagewise.operators.event;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class DeadLetterTest {
    @Test
    void truncatesMessagesTo1KiBWithoutSplittingCharacters() {
        assertThat(DeadLetter.truncate(null)).isEmpty();
        assertThat(DeadLetter.truncate("short")).isEqualTo("short");
        String euros = "€".repeat(400); // 3 bytes each: 1200 bytes
        String cut = DeadLetter.truncate(euros);
        assertThat(cut.getBytes(StandardCharsets.UTF_8).length).isLessThanOrEqualTo(1024).isGreaterThan(1020);
        assertThat(cut).matches("€+");
    }

    @Test
    void malformedLetterCarriesOriginalBytesAndOrigin() {
        Event event = new Event();
        event.id = "";
        event.value = new byte[] {1, 2, 3};
        event.recordKey = new byte[] {9};
        event.origin = new Origin("payments", 1, 5, 77);
        event.malformed = "not valid JSON";

        DeadLetter letter = DeadLetter.malformed(event, 1000);

        assertThat(letter.value).containsExactly(1, 2, 3);
        assertThat(letter.recordKey).containsExactly(9);
        assertThat(letter.origin).isEqualTo(event.origin);
        assertThat(letter.reason).isEqualTo(FailureReason.MALFORMED);
        assertThat(letter.stage).isEqualTo("ingest");
        assertThat(letter.failureMessage).isEqualTo("not valid JSON");
        assertThat(letter.failureClass).isEqualTo(MalformedEventException.class.getName());
        assertThat(letter.failureAt).isEqualTo(1000);
        assertThat(letter.progress).isEqualTo("{}");
        assertThat(FailureReason.MALFORMED.headerValue()).isEqualTo("malformed");
        assertThat(FailureReason.fromHeaderValue("exhausted")).isEqualTo(FailureReason.EXHAUSTED);
    }
}
