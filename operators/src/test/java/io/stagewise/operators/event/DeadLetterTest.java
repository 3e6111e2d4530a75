package io.stagewise.operators.event;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
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

    @Test
    void stageLettersAndRetryRecordsCarryTheEventAndTheFailure() {
        Event event = new Event();
        event.id = "pay-1";
        event.value = new byte[] {4, 2};
        event.recordKey = new byte[] {7};
        event.origin = new Origin("payments", 0, 12, 99);
        event.replayOf = "payments.dlq/0/3";

        DeadLetter letter = DeadLetter.of(event, "charge", FailureReason.PERMANENT,
                new IllegalStateException("x".repeat(2000)), 3, "{\"stages\":{}}", 5000);
        assertThat(letter.eventId).isEqualTo("pay-1");
        assertThat(letter.value).containsExactly(4, 2);
        assertThat(letter.recordKey).containsExactly(7);
        assertThat(letter.origin).isEqualTo(event.origin);
        assertThat(letter.stage).isEqualTo("charge");
        assertThat(letter.reason).isEqualTo(FailureReason.PERMANENT);
        assertThat(letter.failureClass).isEqualTo(IllegalStateException.class.getName());
        assertThat(letter.failureMessage).hasSize(1024);
        assertThat(letter.failureAt).isEqualTo(5000);
        assertThat(letter.retryCount).isEqualTo(3);
        assertThat(letter.progress).isEqualTo("{\"stages\":{}}");
        assertThat(letter.replayOf).isEqualTo("payments.dlq/0/3");
        assertThat(letter.retryStep).isZero();
        assertThat(letter.dueAt).isZero();

        DeadLetter retry = DeadLetter.retry(event, "charge", new IOException("reset"), 1, "{}", 5000, 2, 20_000);
        assertThat(retry.reason).isEqualTo(FailureReason.EXHAUSTED);
        assertThat(retry.retryStep).isEqualTo(2);
        assertThat(retry.dueAt).isEqualTo(25_000);
        assertThat(retry.failureClass).isEqualTo("java.io.IOException");
        assertThat(retry.causeClass).isEqualTo("java.io.IOException");
    }

    @Test
    void failedWithRecordsRootCauseAndATraceOfAtMost8KiB() {
        Exception root = new IllegalStateException("connection reset");
        Exception failure = new RuntimeException("charge failed", new UncheckedIOException(
                new IOException("io", root)));

        DeadLetter letter = new DeadLetter().failedWith(failure);

        assertThat(letter.failureClass).isEqualTo(RuntimeException.class.getName());
        assertThat(letter.failureMessage).isEqualTo("charge failed");
        assertThat(letter.causeClass).isEqualTo(IllegalStateException.class.getName());
        assertThat(letter.stacktrace)
                .startsWith("java.lang.RuntimeException: charge failed\n\tat ")
                .contains("Caused by: java.lang.IllegalStateException: connection reset")
                .contains("DeadLetterTest.failedWithRecordsRootCauseAndATraceOfAtMost8KiB");
    }

    @Test
    void aLongChainIsCutAt8KiBAndADeepStackShowsItsTopFrames() {
        Throwable chain = recurse(0);
        for (int i = 0; i < 200; i++) {
            chain = new RuntimeException("wrapped " + i, chain);
        }

        DeadLetter letter = new DeadLetter().failedWith(chain);

        assertThat(letter.causeClass).isEqualTo(StackOverflowError.class.getName());
        assertThat(letter.stacktrace.getBytes(StandardCharsets.UTF_8).length)
                .isLessThanOrEqualTo(StagewiseHeaders.MAX_STACKTRACE_BYTES)
                .isGreaterThan(StagewiseHeaders.MAX_STACKTRACE_BYTES - 200);
        assertThat(new DeadLetter().failedWith(recurse(0)).stacktrace)
                .startsWith("java.lang.StackOverflowError\n\tat ")
                .containsPattern("\t\\.\\.\\. \\d+ more\n$");
    }

    private static StackOverflowError recurse(int depth) {
        try {
            return recurse(depth + 1);
        } catch (StackOverflowError e) {
            return e;
        }
    }
}
