package io.stagewise.operators.stage;

import io.stagewise.operators.dedup.EventStatus;
import io.stagewise.operators.event.DeadLetter;
import io.stagewise.operators.event.Event;
import java.time.Duration;
import org.apache.flink.api.common.functions.RuntimeContext;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.streaming.api.operators.InternalTimerService;

/**
 * Events waiting in the retry ladder, in keyed state, each with a watchdog timer: the retry record
 * it was sent with ({@link StageStateDescriptors#LADDER_WAIT}, no TTL), so it can be re-sent or
 * dead-lettered if the record never comes back. Works on the operator's current key; the timers
 * share the operator's timer service (namespace = event id).
 *
 * <p>Savepoint compatibility: earlier versions recorded only the step
 * ({@link StageStateDescriptors#LADDER_STEP}, with the state TTL); such an entry still admits its
 * record (while the event's status is {@code IN_PROGRESS}), but has no watchdog.
 */
final class LadderWaits {
    private final MapState<String, LadderWait> waits;
    private final MapState<String, Integer> legacySteps;
    private final InternalTimerService<String> timers;

    LadderWaits(RuntimeContext state, Duration stateTtl, InternalTimerService<String> timers) {
        this.waits = state.getMapState(StageStateDescriptors.ladderWait());
        this.legacySteps = state.getMapState(StageStateDescriptors.ladderStep(stateTtl));
        this.timers = timers;
    }

    /** The event waits for {@code record} to come back from its step; the watchdog fires at {@code watchdogAt}. */
    void waitFor(DeadLetter record, long watchdogAt) throws Exception {
        LadderWait wait = new LadderWait(record);
        rearm(record.eventId, wait, watchdogAt);
    }

    /** The event's wait, or null if it is not in the ladder (or was sent there by an earlier version). */
    LadderWait get(String eventId) throws Exception {
        return waits.get(eventId);
    }

    /** True if the timer is the watchdog of the event's wait. */
    boolean isWatchdog(String eventId, long timestamp) throws Exception {
        LadderWait wait = waits.get(eventId);
        return wait != null && wait.timer == timestamp;
    }

    /**
     * Takes a record read back from retry topic {@code event.retryStep} if the event waits at that
     * step (ending the wait and its watchdog); false for a re-delivery or a copy that came second.
     */
    boolean admit(Event event, EventStatus recorded) throws Exception {
        LadderWait wait = waits.get(event.id);
        if (wait != null) {
            if (wait.record.retryStep != event.retryStep) {
                return false;
            }
            end(event.id, wait);
            return true;
        }
        Integer step = legacySteps.get(event.id);
        if (recorded != EventStatus.IN_PROGRESS || step == null || step != event.retryStep) {
            return false;
        }
        legacySteps.remove(event.id);
        return true;
    }

    /** Moves the watchdog to {@code at} (a re-send, or a step gone after a restore). */
    void rearm(String eventId, LadderWait wait, long at) throws Exception {
        if (wait.timer != 0) {
            timers.deleteProcessingTimeTimer(eventId, wait.timer);
        }
        timers.registerProcessingTimeTimer(eventId, at);
        wait.timer = at;
        waits.put(eventId, wait);
    }

    /** The event leaves the ladder: its wait and watchdog are removed. */
    void end(String eventId, LadderWait wait) throws Exception {
        timers.deleteProcessingTimeTimer(eventId, wait.timer);
        waits.remove(eventId);
    }
}
