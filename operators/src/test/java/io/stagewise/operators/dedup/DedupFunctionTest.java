package io.stagewise.operators.dedup;

import static org.assertj.core.api.Assertions.assertThat;

import io.stagewise.operators.event.Event;
import io.stagewise.operators.event.Origin;
import java.time.Duration;
import java.util.List;
import java.util.stream.Collectors;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.operators.KeyedProcessOperator;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class DedupFunctionTest {
    private static final Duration TTL = Duration.ofHours(1);

    private KeyedOneInputStreamOperatorTestHarness<String, Event, Event> harness;

    @BeforeEach
    void open() throws Exception {
        harness = newHarness();
        harness.open();
    }

    @AfterEach
    void close() throws Exception {
        harness.close();
    }

    private static KeyedOneInputStreamOperatorTestHarness<String, Event, Event> newHarness() throws Exception {
        return new KeyedOneInputStreamOperatorTestHarness<>(
                new KeyedProcessOperator<>(new DedupFunction(TTL)), e -> e.id, Types.STRING);
    }

    private static Event event(String id, long offset) {
        Event event = new Event();
        event.id = id;
        event.type = "payment.requested";
        event.key = "acct-1";
        event.payload = "{}";
        event.progress = "{}";
        event.origin = new Origin("payments", 0, offset, 0);
        return event;
    }

    private static Event replay(String id, long offset) {
        Event event = event(id, offset);
        event.replayOf = "payments.dlq/0/" + offset;
        return event;
    }

    private List<Long> emittedOffsets() {
        return harness.extractOutputValues().stream().map(e -> e.origin.offset).collect(Collectors.toList());
    }

    @Test
    void firstDeliveryPassesAndRedeliveriesAreDropped() throws Exception {
        harness.processElement(new StreamRecord<>(event("a", 1)));
        harness.processElement(new StreamRecord<>(event("b", 2)));
        harness.processElement(new StreamRecord<>(event("a", 3)));
        harness.processElement(new StreamRecord<>(event("b", 4)));
        harness.processElement(new StreamRecord<>(event("a", 5)));

        assertThat(emittedOffsets()).containsExactly(1L, 2L);
        assertThat(harness.numKeyedStateEntries()).isEqualTo(2);
    }

    @Test
    void aReplayOfAnInProgressEventIsDroppedToo() throws Exception {
        harness.processElement(new StreamRecord<>(event("a", 1)));
        harness.processElement(new StreamRecord<>(replay("a", 2)));

        assertThat(emittedOffsets()).containsExactly(1L);
    }

    @Test
    void idsAreForgottenAfterTheTtl() throws Exception {
        harness.setStateTtlProcessingTime(0);
        harness.processElement(new StreamRecord<>(event("a", 1)));
        harness.setStateTtlProcessingTime(TTL.toMillis() - 1);
        harness.processElement(new StreamRecord<>(event("a", 2)));
        harness.setStateTtlProcessingTime(TTL.toMillis() + 1);
        harness.processElement(new StreamRecord<>(event("a", 3)));

        assertThat(emittedOffsets()).containsExactly(1L, 3L);
    }

    @Test
    void dedupStateSurvivesSnapshotAndRestore() throws Exception {
        harness.processElement(new StreamRecord<>(event("a", 1)));
        OperatorSubtaskState snapshot = harness.snapshot(1L, 1L);
        harness.close();

        harness = newHarness();
        harness.initializeState(snapshot);
        harness.open();
        harness.processElement(new StreamRecord<>(event("a", 2)));
        harness.processElement(new StreamRecord<>(event("c", 3)));

        assertThat(emittedOffsets()).containsExactly(3L);
    }

    @Test
    void rejectsANonPositiveTtl() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new DedupFunction(Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
