package io.stagewise.operators.ingest;

import static org.assertj.core.api.Assertions.assertThat;

import io.stagewise.operators.event.DeadLetter;
import io.stagewise.operators.event.Event;
import io.stagewise.operators.event.FailureReason;
import io.stagewise.operators.event.Origin;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.OneInputStreamOperatorTestHarness;
import org.apache.flink.streaming.util.ProcessFunctionTestHarnesses;
import org.junit.jupiter.api.Test;

class MalformedSplitTest {
    @Test
    void routesMalformedRecordsToTheDeadLetterOutput() throws Exception {
        EventParser parser = new EventParser(1024);
        Event good = parser.parse(null, "{\"id\":\"a\",\"type\":\"t\"}".getBytes(StandardCharsets.UTF_8),
                new Origin("payments", 0, 1, 10), Map.of());
        Event bad = parser.parse(null, "{oops".getBytes(StandardCharsets.UTF_8),
                new Origin("payments", 0, 2, 20), Map.of());

        try (OneInputStreamOperatorTestHarness<Event, Event> harness =
                ProcessFunctionTestHarnesses.forProcessFunction(new MalformedSplit())) {
            harness.setProcessingTime(500);
            harness.processElement(new StreamRecord<>(good));
            harness.processElement(new StreamRecord<>(bad));

            assertThat(harness.extractOutputValues()).extracting(e -> e.id).containsExactly("a");
            ConcurrentLinkedQueue<StreamRecord<DeadLetter>> letters = harness.getSideOutput(MalformedSplit.DEAD_LETTERS);
            assertThat(letters).hasSize(1);
            DeadLetter letter = letters.peek().getValue();
            assertThat(letter.reason).isEqualTo(FailureReason.MALFORMED);
            assertThat(letter.origin).isEqualTo(new Origin("payments", 0, 2, 20));
            assertThat(letter.value).isEqualTo("{oops".getBytes(StandardCharsets.UTF_8));
            assertThat(letter.failureAt).isEqualTo(500);
        }
    }
}
