package io.stagewise.sinks.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stagewise.operators.event.CompletedEvent;
import io.stagewise.operators.event.Origin;
import org.junit.jupiter.api.Test;

class OutputRecordLimitTest {
    private static final int LIMIT = 10 * 1024;
    private final OutputRecordLimit limit = new OutputRecordLimit("out", LIMIT, "the max.message.bytes of topic 'out'");

    @Test
    void aSmallRecordFits() {
        assertThat(limit.tooLarge(event("e-1", "x"))).isEmpty();
    }

    @Test
    void aRecordOverTheLimitIsRefusedWithItsExactSizeAndTheSetting() {
        CompletedEvent big = event("e-2", "y".repeat(LIMIT));
        int bytes = new CompletedEventSerializer("out").recordBytes(big);
        assertThat(limit.tooLarge(big)).hasValueSatisfying(why -> assertThat(why)
                .contains("event e-2")
                .contains(bytes + " bytes")
                .contains("max.message.bytes of topic 'out' is " + LIMIT)
                .contains(Integer.toString(LIMIT - OutputRecordLimit.FRAMING_BYTES)));
    }

    @Test
    void aRecordJustUnderTheLimitIsMeasuredExactlyAndFits() {
        // Its length bound (3 bytes per char) is over the limit; its real size, all ASCII, is not.
        CompletedEvent near = event("e-3", "z".repeat(LIMIT - 2 * OutputRecordLimit.FRAMING_BYTES));
        int bytes = new CompletedEventSerializer("out").recordBytes(near);
        assertThat(bytes).isLessThanOrEqualTo(LIMIT - OutputRecordLimit.FRAMING_BYTES);
        assertThat(limit.tooLarge(near)).isEmpty();
        CompletedEvent over = event("e-4", "z".repeat(LIMIT - OutputRecordLimit.FRAMING_BYTES));
        assertThat(limit.tooLarge(over)).isPresent();
    }

    @Test
    void recordBytesCountsKeyValueAndHeaders() {
        CompletedEvent done = event("e-5", "x");
        CompletedEventSerializer serializer = new CompletedEventSerializer("out");
        int value = serializer.toJson(done).length;
        assertThat(serializer.recordBytes(done))
                .isEqualTo("acct-1".length() + value + "stagewise.event-id".length() + "e-5".length());
    }

    @Test
    void aLimitWithNoRoomForFramingIsRefused() {
        assertThatThrownBy(() -> new OutputRecordLimit("out", OutputRecordLimit.FRAMING_BYTES, "max.request.size"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("max.request.size");
    }

    private static CompletedEvent event(String id, String note) {
        CompletedEvent done = new CompletedEvent();
        done.eventId = id;
        done.type = "payment.requested";
        done.key = "acct-1";
        done.payload = "{\"note\":\"" + note + "\"}";
        done.outputs = "{}";
        done.completedAt = 1L;
        done.origin = new Origin("payments", 0, 42, 1L);
        return done;
    }
}
