package io.stagewise.operators.stage;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;

/**
 * The stage engine's bookkeeping of this task attempt, in memory only: per remote stage its calls
 * in flight (at most its {@link InFlightLimit}, fixed or adaptive) and the events waiting for one
 * of its slots, in arrival order; events waiting out a backoff, and retry records waiting for
 * their due time. Not part of checkpoints, and nor is any limit: after a restore each pending
 * event's timer (keyed state) puts it back here, and every limit starts again at
 * {@code --max-in-flight}.
 */
final class CallSlots {
    /** One downstream call; a result is applied only if its call is still the current one. */
    record Call(long id, String key, String eventId, String stage, long startedNanos) {}

    /** An event, by business key and event id. */
    record Ref(String key, String eventId) {}

    /** One remote stage's limit, calls in flight and queue. */
    private static final class Lane {
        final InFlightLimit limit;
        int inFlight;
        final ArrayDeque<Ref> waiting = new ArrayDeque<>();

        Lane(InFlightLimit limit) {
            this.limit = limit;
        }

        boolean full() {
            return inFlight >= limit.current();
        }
    }

    // In workflow order, so a free slot goes to the earliest stage's queue first.
    private final Map<String, Lane> lanes = new LinkedHashMap<>();
    // Keyed by (business key, event id), as the keyed state is: one id under two keys is two events.
    private final Map<Ref, Call> inFlight = new HashMap<>();
    private final Set<Ref> backingOff = new HashSet<>();
    /** Since when (epoch ms), for the oldest-waiting-retry gauge. */
    private final Map<Ref, Long> waitingRetries = new HashMap<>();
    private long callSequence;

    /** @param remoteStages the workflow's remote stages, in order, each with its own limit */
    CallSlots(List<String> remoteStages, Function<String, InFlightLimit> limits) {
        for (String stage : remoteStages) {
            lanes.put(stage, new Lane(limits.apply(stage)));
        }
    }

    private Lane lane(String stage) {
        Lane lane = lanes.get(stage);
        if (lane == null) {
            throw new IllegalArgumentException("no remote stage " + stage + " in this workflow");
        }
        return lane;
    }

    /** Whether {@code stage} has as many calls in flight as its limit allows now. */
    boolean full(String stage) {
        return lane(stage).full();
    }

    /**
     * Whether new input must wait (backpressure): some event waits for a slot. A new event may
     * need a slot of any stage, so it is admitted only while nothing is queued; so each queue
     * holds at most one event per call in flight ahead of it, plus one.
     */
    boolean blocked() {
        for (Lane lane : lanes.values()) {
            if (!lane.waiting.isEmpty()) {
                return true;
            }
        }
        return false;
    }

    /** Calls in flight, all stages. */
    int inFlight() {
        return inFlight.size();
    }

    int inFlight(String stage) {
        return lane(stage).inFlight;
    }

    /** The stage's in-flight limit now. */
    int limit(String stage) {
        return lane(stage).limit.current();
    }

    /** Everything this attempt holds is done: no call in flight, nothing waiting for a slot or a backoff. */
    boolean idle() {
        return inFlight.isEmpty() && !blocked() && backingOff.isEmpty();
    }

    boolean hasCalls() {
        return !inFlight.isEmpty();
    }

    Call startCall(String key, String eventId, String stage) {
        Lane lane = lane(stage);
        Call call = new Call(++callSequence, key, eventId, stage, System.nanoTime());
        inFlight.put(new Ref(key, eventId), call);
        lane.inFlight++;
        return call;
    }

    /**
     * Ends {@code call} if it is still the event's current call, and feeds its outcome to its
     * stage's limit; false if it was superseded (its result is ignored, and not sampled).
     *
     * @param failure null for a success
     */
    boolean endCall(Call call, Throwable failure) {
        Ref ref = new Ref(call.key(), call.eventId());
        if (inFlight.get(ref) != call) {
            return false;
        }
        inFlight.remove(ref);
        Lane lane = lane(call.stage());
        lane.limit.onResult(System.nanoTime() - call.startedNanos(), lane.inFlight, failure);
        lane.inFlight--;
        return true;
    }

    /**
     * Ends the event's current call, if any; its late result is ignored.
     *
     * @param timedOut its deadline passed: a drop for the stage's limit
     */
    Call abandonCall(String key, String eventId, boolean timedOut) {
        Call call = inFlight.remove(new Ref(key, eventId));
        if (call != null) {
            Lane lane = lane(call.stage());
            if (timedOut) {
                lane.limit.onResult(System.nanoTime() - call.startedNanos(), lane.inFlight,
                        new TimeoutException("call deadline passed"));
            }
            lane.inFlight--;
        }
        return call;
    }

    void queue(String key, String eventId, String stage) {
        lane(stage).waiting.add(new Ref(key, eventId));
    }

    boolean isQueued(String key, String eventId) {
        Ref ref = new Ref(key, eventId);
        for (Lane lane : lanes.values()) {
            if (lane.waiting.contains(ref)) {
                return true;
            }
        }
        return false;
    }

    /** The next event waiting for a slot of a stage that has one free; null if there is none. */
    Ref nextQueued() {
        for (Lane lane : lanes.values()) {
            if (!lane.waiting.isEmpty() && !lane.full()) {
                return lane.waiting.poll();
            }
        }
        return null;
    }

    void backingOff(String key, String eventId) {
        backingOff.add(new Ref(key, eventId));
    }

    /** Events waiting out a backoff, as a copy. */
    List<Ref> backingOff() {
        return new ArrayList<>(backingOff);
    }

    void retryWaiting(String key, String eventId, long since) {
        waitingRetries.put(new Ref(key, eventId), since);
    }

    /** The event no longer waits for a backoff or a due time. */
    void doneWaiting(String key, String eventId) {
        Ref ref = new Ref(key, eventId);
        backingOff.remove(ref);
        waitingRetries.remove(ref);
    }

    long oldestWaitingRetryAgeMillis(long now) {
        return waitingRetries.values().stream().mapToLong(since -> now - since).max().orElse(0L);
    }
}
