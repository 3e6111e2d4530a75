package io.stagewise.cli.dlq;

import io.stagewise.jobs.audit.Audit;
import io.stagewise.jobs.audit.AuditReport;
import static io.stagewise.cli.dlq.TestDeadLetters.consumed;
import static io.stagewise.cli.dlq.TestDeadLetters.declinedAtCharge;
import static io.stagewise.cli.dlq.TestDeadLetters.dlqRecord;
import static io.stagewise.cli.dlq.TestDeadLetters.input;
import static io.stagewise.cli.dlq.TestDeadLetters.letter;
import static io.stagewise.cli.dlq.TestDeadLetters.payment;
import static org.assertj.core.api.Assertions.assertThat;

import io.stagewise.cli.dlq.DeadLetterRecord;
import io.stagewise.cli.dlq.Replayer;
import io.stagewise.operators.event.DeadLetter;
import io.stagewise.operators.event.FailureReason;
import io.stagewise.operators.event.Origin;
import io.stagewise.operators.ingest.EventParser;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;

/**
 * Invariant (1) of the audit after a DLQ replay: the old dead letter stays in the append-only DLQ,
 * so a dead letter that the input shows was replayed (same id, {@code stagewise.replay-of} naming
 * it) is resolved, and the id counts where the replay ended up. Everything else stays as strict.
 */
class ReplayAuditTest {
    private static final String INPUT = "payments";
    private static final String DLQ = "payments.dlq";
    private static final String OUTPUT = "payments.completed";
    private static final long T0 = 1_764_266_400_000L;

    private final byte[] value = payment("pay-1", "acct-3", "12.50");
    private final ConsumerRecord<byte[], byte[]> original = input(INPUT, 0, 0, T0, "acct-3", value);
    private final DeadLetter declined = letter("pay-1", "acct-3", value, FailureReason.PERMANENT, "charge",
            new Origin(INPUT, 0, 0, T0), T0 + 1000, declinedAtCharge("pay-1"));
    private final ConsumerRecord<byte[], byte[]> deadLetter = consumed(dlqRecord(DLQ, declined), 0, 0, T0 + 1000);

    @Test
    void aDeadLetterReplayedToCompletionIsResolved() {
        AuditReport report = check(List.of(original, replayOf(deadLetter, 1)), List.of(output("pay-1")),
                List.of(deadLetter), Map.of("pay-1", 1));

        assertThat(report.passed()).as(report.render()).isTrue();
        assertThat(report.count("deadLettersResolvedByReplay")).isEqualTo(1);
        assertThat(report.count("completed")).isEqualTo(1);
    }

    @Test
    void withoutAReplayAnIdInTheOutputAndTheDlqIsStillCountedTwice() {
        AuditReport report = check(List.of(original), List.of(output("pay-1")), List.of(deadLetter), Map.of("pay-1", 1));

        assertThat(failed(report)).containsExactly("(1) every distinct valid id in exactly one of output, DLQ");
        assertThat(report.render()).contains("more than once 1 [pay-1 x2]");
    }

    @Test
    void aReplayThatVanishedLeavesTheIdMissing() {
        AuditReport report = check(List.of(original, replayOf(deadLetter, 1)), List.of(), List.of(deadLetter), Map.of());

        assertThat(failed(report)).containsExactly("(1) every distinct valid id in exactly one of output, DLQ");
        assertThat(report.render()).contains("missing 1 [pay-1]");
    }

    @Test
    void aReplayThatFailedAgainCountsOnceByItsNewDeadLetter() {
        DeadLetter again = letter("pay-1", "acct-3", value, FailureReason.PERMANENT, "charge",
                new Origin(INPUT, 0, 0, T0), T0 + 5000, declinedAtCharge("pay-1").replace("\"keyGeneration\":2", "\"keyGeneration\":3"));
        again.replayOf = DLQ + "/0/0";
        ConsumerRecord<byte[], byte[]> second = consumed(dlqRecord(DLQ, again), 0, 1, T0 + 5000);

        AuditReport report = check(List.of(original, replayOf(deadLetter, 1)), List.of(), List.of(deadLetter, second),
                Map.of());

        assertThat(report.passed()).as(report.render()).isTrue();
        assertThat(report.count("deadLettersResolvedByReplay")).isEqualTo(1);
    }

    @Test
    void aLetterReplayedTwiceThatFailsAgainCountsOnceByItsNewestDeadLetter() {
        DeadLetter again = letter("pay-1", "acct-3", value, FailureReason.PERMANENT, "charge",
                new Origin(INPUT, 0, 0, T0), T0 + 5000, declinedAtCharge("pay-1").replace("\"keyGeneration\":2", "\"keyGeneration\":3"));
        again.replayOf = DLQ + "/0/0";
        ConsumerRecord<byte[], byte[]> second = consumed(dlqRecord(DLQ, again), 0, 1, T0 + 5000);
        DeadLetter thrice = letter("pay-1", "acct-3", value, FailureReason.PERMANENT, "charge",
                new Origin(INPUT, 0, 0, T0), T0 + 9000, declinedAtCharge("pay-1").replace("\"keyGeneration\":2", "\"keyGeneration\":4"));
        thrice.replayOf = DLQ + "/0/1";
        ConsumerRecord<byte[], byte[]> third = consumed(dlqRecord(DLQ, thrice), 0, 2, T0 + 9000);

        AuditReport report = check(List.of(original, replayOf(deadLetter, 1), replayOf(second, 2)), List.of(),
                List.of(deadLetter, second, third), Map.of());

        assertThat(report.passed()).as(report.render()).isTrue();
        assertThat(report.count("deadLettersResolvedByReplay")).isEqualTo(2);
    }

    @Test
    void aMalformedLetterReplayedWithIncludeMalformedThatFailsAgainIsNoAuditFailure() {
        byte[] garbage = "not json".getBytes(StandardCharsets.UTF_8);
        ConsumerRecord<byte[], byte[]> bad = input(INPUT, 0, 3, T0, "acct-3", garbage);
        DeadLetter malformed = letter(null, "acct-3", garbage, FailureReason.MALFORMED, "ingest",
                new Origin(INPUT, 0, 3, T0), T0 + 100, "{}");
        ConsumerRecord<byte[], byte[]> firstLetter = consumed(dlqRecord(DLQ, malformed), 0, 1, T0 + 100);
        // dlq replay --include-malformed: the replay record carries the true origin; the pipeline
        // dead-letters it again under that origin.
        ConsumerRecord<byte[], byte[]> replayed = consumed(Replayer.replayRecord(INPUT, DeadLetterRecord.of(firstLetter)),
                0, 4, T0 + 3000);
        DeadLetter again = letter(null, "acct-3", garbage, FailureReason.MALFORMED, "ingest",
                new Origin(INPUT, 0, 3, T0), T0 + 3100, "{}");
        again.replayOf = DLQ + "/0/1";
        ConsumerRecord<byte[], byte[]> secondLetter = consumed(dlqRecord(DLQ, again), 0, 2, T0 + 3100);

        AuditReport report = check(List.of(original, bad, replayed), List.of(output("pay-1")),
                List.of(firstLetter, secondLetter), Map.of("pay-1", 1));

        assertThat(report.passed()).as(report.render()).isTrue();
        assertThat(report.count("malformedInInput")).isEqualTo(2);
        assertThat(report.count("malformedDeadLetters")).isEqualTo(2);
    }

    @Test
    void aReplayOfAnotherEventResolvesNothing() {
        DeadLetter other = letter("pay-2", "acct-3", payment("pay-2", "acct-3", "1.00"), FailureReason.PERMANENT,
                "charge", new Origin(INPUT, 0, 5, T0), T0, declinedAtCharge("pay-2"));
        ConsumerRecord<byte[], byte[]> otherInput = input(INPUT, 0, 5, T0, "acct-3", other.value);
        ConsumerRecord<byte[], byte[]> otherLetter = consumed(dlqRecord(DLQ, other), 0, 1, T0);
        // pay-2's replay record claims to replay pay-1's dead letter.
        ProducerRecord<byte[], byte[]> forged = Replayer.replayRecord(INPUT, DeadLetterRecord.of(otherLetter));
        forged.headers().remove("stagewise.replay-of");
        forged.headers().add("stagewise.replay-of", (DLQ + "/0/0").getBytes(StandardCharsets.UTF_8));

        AuditReport report = check(List.of(original, otherInput, consumed(forged, 0, 6, T0 + 9000)),
                List.of(output("pay-1"), output("pay-2")), List.of(deadLetter, otherLetter), Map.of("pay-1", 1, "pay-2", 1));

        assertThat(failed(report)).containsExactly("(1) every distinct valid id in exactly one of output, DLQ");
        assertThat(report.render()).contains("more than once 2");
    }

    private static ConsumerRecord<byte[], byte[]> replayOf(ConsumerRecord<byte[], byte[]> letter, long offset) {
        return consumed(Replayer.replayRecord(INPUT, DeadLetterRecord.of(letter)), 0, offset, T0 + 2000 + offset);
    }

    private static ConsumerRecord<byte[], byte[]> output(String id) {
        ProducerRecord<byte[], byte[]> record = new ProducerRecord<>(OUTPUT, null,
                ("{\"id\":\"" + id + "\"}").getBytes(StandardCharsets.UTF_8));
        record.headers().add("stagewise.event-id", id.getBytes(StandardCharsets.UTF_8));
        return consumed(record, 0, 0, T0);
    }

    private static AuditReport check(List<ConsumerRecord<byte[], byte[]>> inputs, List<ConsumerRecord<byte[], byte[]>> outputs,
                                     List<ConsumerRecord<byte[], byte[]>> deadLetters, Map<String, Integer> charges) {
        return Audit.check(inputs, outputs, deadLetters, EventParser.DEFAULT_MAX_EVENT_BYTES, Optional.empty(),
                Optional.of(charges));
    }

    private static List<String> failed(AuditReport report) {
        List<String> names = new ArrayList<>();
        report.checks().stream().filter(c -> !c.passed()).forEach(c -> names.add(c.name()));
        return names;
    }
}
