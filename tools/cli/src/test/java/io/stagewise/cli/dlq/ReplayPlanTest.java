package io.stagewise.cli.dlq;

import static io.stagewise.cli.dlq.TestDeadLetters.consumed;
import static io.stagewise.cli.dlq.TestDeadLetters.declinedAtCharge;
import static io.stagewise.cli.dlq.TestDeadLetters.dlqRecord;
import static io.stagewise.cli.dlq.TestDeadLetters.header;
import static io.stagewise.cli.dlq.TestDeadLetters.letter;
import static io.stagewise.cli.dlq.TestDeadLetters.payment;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stagewise.jobs.StagewiseException;
import io.stagewise.operators.event.DeadLetter;
import io.stagewise.operators.event.FailureReason;
import io.stagewise.operators.event.Origin;
import io.stagewise.operators.event.StagewiseHeaders;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.junit.jupiter.api.Test;

/** What a replay writes for a dead letter, and which selected dead letters it leaves out and why. */
class ReplayPlanTest {
    private static final long T0 = 1_764_266_400_000L;

    @Test
    void aReplayRecordKeepsBytesIdentityOriginAndProgressAndNamesItsDeadLetter() {
        byte[] value = payment("pay-1", "acct-3", "12.50");
        DeadLetter declined = letter("pay-1", "acct-3", value, FailureReason.PERMANENT, "charge",
                new Origin("payments", 1, 41, T0), T0 + 500, declinedAtCharge("pay-1"));
        declined.retryCount = 3;
        DeadLetterRecord dead = DeadLetterRecord.of(consumed(dlqRecord("payments.dlq", declined), 2, 17, T0 + 600));

        ProducerRecord<byte[], byte[]> replay = Replayer.replayRecord("payments", dead);

        assertThat(replay.topic()).isEqualTo("payments");
        assertThat(replay.partition()).isNull();
        assertThat(replay.key()).isEqualTo("acct-3".getBytes(StandardCharsets.UTF_8));
        assertThat(replay.value()).isEqualTo(value);
        List<String> names = new ArrayList<>();
        for (Header h : replay.headers()) {
            names.add(h.key());
        }
        assertThat(names).containsExactly(StagewiseHeaders.REPLAY_OF, StagewiseHeaders.ORIGIN_TOPIC,
                StagewiseHeaders.ORIGIN_PARTITION, StagewiseHeaders.ORIGIN_OFFSET, StagewiseHeaders.ORIGIN_TIMESTAMP,
                StagewiseHeaders.PROGRESS, StagewiseHeaders.RETRY_COUNT);
        assertThat(header(replay, StagewiseHeaders.REPLAY_OF)).isEqualTo("payments.dlq/2/17");
        assertThat(header(replay, StagewiseHeaders.ORIGIN_TOPIC)).isEqualTo("payments");
        assertThat(header(replay, StagewiseHeaders.ORIGIN_PARTITION)).isEqualTo("1");
        assertThat(header(replay, StagewiseHeaders.ORIGIN_OFFSET)).isEqualTo("41");
        assertThat(header(replay, StagewiseHeaders.ORIGIN_TIMESTAMP)).isEqualTo(Long.toString(T0));
        assertThat(header(replay, StagewiseHeaders.PROGRESS)).isEqualTo(declinedAtCharge("pay-1"));
        assertThat(header(replay, StagewiseHeaders.RETRY_COUNT)).isEqualTo("3");
    }

    @Test
    void malformedAreSkippedUnlessIncluded() {
        DeadLetterRecord permanent = at("pay-1", FailureReason.PERMANENT, 0, T0);
        DeadLetterRecord malformed = DeadLetterRecord.of(consumed(dlqRecord("payments.dlq", letter("", null,
                "{oops".getBytes(StandardCharsets.UTF_8), FailureReason.MALFORMED, "ingest",
                new Origin("payments", 0, 99, T0), T0, "{}")), 0, 1, T0));
        DeadLetterReader.Scan scan = scan(permanent, malformed);

        ReplayPlan without = ReplayPlan.of(scan, false);
        ReplayPlan with = ReplayPlan.of(scan, true);

        assertThat(without.toReplay()).containsExactly(permanent);
        assertThat(without.skipped(ReplayPlan.Skip.MALFORMED)).containsExactly(malformed);
        assertThat(with.toReplay()).containsExactly(permanent, malformed);
        assertThat(with.skippedTotal()).isZero();
    }

    @Test
    void anOlderDeadLetterOfAnEventThatFailedAgainIsSuperseded() {
        DeadLetterRecord first = at("pay-1", FailureReason.PERMANENT, 0, T0);
        DeadLetterRecord again = at("pay-1", FailureReason.PERMANENT, 5, T0 + 60_000);
        DeadLetterRecord other = at("pay-2", FailureReason.EXHAUSTED, 3, T0 + 30_000);

        ReplayPlan plan = ReplayPlan.of(scan(again, first, other), false);

        assertThat(plan.toReplay()).as("ordered by failure time").containsExactly(other, again);
        assertThat(plan.skipped(ReplayPlan.Skip.SUPERSEDED)).containsExactly(first);
    }

    @Test
    void aDeadLetterWithoutOriginOrWithBrokenProgressIsNotReplayed() {
        DeadLetterRecord good = at("pay-1", FailureReason.PERMANENT, 0, T0);
        Map<String, String> noOrigin = new HashMap<>(at("pay-2", FailureReason.PERMANENT, 1, T0).headers());
        noOrigin.remove(StagewiseHeaders.ORIGIN_TOPIC);
        Map<String, String> badProgress = new HashMap<>(at("pay-3", FailureReason.PERMANENT, 2, T0).headers());
        badProgress.put(StagewiseHeaders.PROGRESS, "[1,2]");
        DeadLetterRecord a = new DeadLetterRecord("payments.dlq", 0, 1, T0, null, new byte[] {'{'}, noOrigin);
        DeadLetterRecord b = new DeadLetterRecord("payments.dlq", 0, 2, T0, null, new byte[] {'{'}, badProgress);

        ReplayPlan plan = ReplayPlan.of(scan(good, a, b), false);

        assertThat(plan.toReplay()).containsExactly(good);
        assertThat(plan.skipped(ReplayPlan.Skip.INCOMPLETE)).containsExactly(a, b);
        assertThat(a.replayProblems()).containsExactly("no stagewise.origin.topic");
        assertThat(b.replayProblems()).containsExactly("stagewise.progress is not a JSON object");
    }

    @Test
    void settingsRefuseANegativeRateAndCapBatchesAtOneSecondOfIt() {
        assertThat(new Replayer.Settings("b:9092", "payments", "tx", 20, 100, 1).effectiveBatchSize()).isEqualTo(20);
        assertThat(new Replayer.Settings("b:9092", "payments", "tx", 0, 100, 1).effectiveBatchSize()).isEqualTo(100);
        assertThatThrownBy(() -> new Replayer.Settings("b:9092", "payments", "tx", -1, 100, 1))
                .isInstanceOf(StagewiseException.class).hasMessageContaining("--rate");
        assertThat(Replayer.transactionalId("payments.dlq", "r1")).isEqualTo("stagewise-replay-payments.dlq-r1");
    }

    private static DeadLetterRecord at(String id, FailureReason reason, long offset, long failureAt) {
        return DeadLetterRecord.of(consumed(dlqRecord("payments.dlq", letter(id, "acct-1", payment(id, "acct-1", "5.00"),
                reason, "charge", new Origin("payments", 0, offset + 100, T0), failureAt, declinedAtCharge(id))),
                0, offset, failureAt));
    }

    /** A scan whose selection is every given record. */
    private static DeadLetterReader.Scan scan(DeadLetterRecord... letters) {
        Map<String, String> latest = new HashMap<>();
        Map<String, Long> latestAt = new HashMap<>();
        for (DeadLetterRecord l : letters) {
            long at = l.failureAt().orElse(0L);
            if (at >= latestAt.getOrDefault(l.identity(), Long.MIN_VALUE)) {
                latestAt.put(l.identity(), at);
                latest.put(l.identity(), l.coordinates());
            }
        }
        return new DeadLetterReader.Scan("payments.dlq", letters.length, List.of(letters), latest);
    }
}
