package io.stagewise.operators.stage;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;

/** Per-stage slots: each remote stage has its own limit and queue; waiting events keep arrival order. */
class CallSlotsTest {
    @Test
    void eachStageHasItsOwnLimitAndQueueInArrivalOrder() {
        CallSlots slots = new CallSlots(List.of("charge", "notify"), stage -> InFlightLimit.fixed(2));
        CallSlots.Call c1 = slots.startCall("k1", "e1", "charge");
        slots.startCall("k2", "e2", "charge");
        assertThat(slots.full("charge")).isTrue();
        assertThat(slots.full("notify")).as("a full charge stage leaves notify free").isFalse();
        slots.startCall("k3", "e3", "notify");
        assertThat(slots.blocked()).isFalse();

        slots.queue("k4", "e4", "charge");
        slots.queue("k5", "e5", "charge");
        slots.queue("k6", "e6", "charge");
        assertThat(slots.blocked()).as("new input waits while an event waits for a slot").isTrue();
        assertThat(slots.isQueued("k5", "e5")).isTrue();
        assertThat(slots.nextQueued()).as("charge is full").isNull();

        assertThat(slots.endCall(c1, null)).isTrue();
        assertThat(slots.endCall(c1, null)).as("a call ends once").isFalse();
        List<String> started = new ArrayList<>();
        CallSlots.Ref ref;
        while ((ref = slots.nextQueued()) != null) {
            started.add(ref.eventId());
            slots.startCall(ref.key(), ref.eventId(), "charge");
        }
        assertThat(started).containsExactly("e4");
        assertThat(slots.inFlight("charge")).isEqualTo(2);
        assertThat(slots.inFlight("notify")).isEqualTo(1);
        assertThat(slots.inFlight()).isEqualTo(3);
    }

    @Test
    void aTimedOutCallLowersItsStagesAdaptiveLimitOnly() {
        CallSlots slots = new CallSlots(List.of("charge", "notify"), stage -> InFlightLimit.adaptive(1, 10));
        for (int i = 0; i < 10; i++) {
            slots.startCall("k", "e" + i, "charge");
        }
        slots.startCall("k", "n", "notify");
        assertThat(slots.abandonCall("k", "e0", true)).isNotNull();
        CallSlots.Call late = slots.startCall("k", "e1-again", "charge");
        assertThat(slots.endCall(late, new TimeoutException())).isTrue();
        assertThat(slots.limit("charge")).isEqualTo(8);
        assertThat(slots.limit("notify")).isEqualTo(10);
        assertThat(slots.abandonCall("k", "e2", false)).as("state expired: no drop").isNotNull();
        assertThat(slots.limit("charge")).isEqualTo(8);
        assertThat(slots.inFlight("charge")).isEqualTo(8);
    }
}
