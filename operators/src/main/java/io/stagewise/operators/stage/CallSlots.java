package io.stagewise.operators.stage;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The stage engine's bookkeeping of this task attempt, in memory only: calls in flight (at most
 * {@code maxInFlight}), events waiting for a free slot in arrival order, events waiting out a
 * backoff, and retry records waiting for their due time. Not part of checkpoints: after a restore
 * each pending event's timer (keyed state) puts it back here.
 */
final class CallSlots {
    /** One downstream call; a result is applied only if its call is still the current one. */
    record Call(long id, String key, String eventId, String stage, long startedNanos) {}

    /** An event, by business key and event id. */
    record Ref(String key, String eventId) {}

    private final int maxInFlight;
    // Keyed by (business key, event id), as the keyed state is: one id under two keys is two events.
    private final Map<Ref, Call> inFlight = new HashMap<>();
    private final ArrayDeque<Ref> waiting = new ArrayDeque<>();
    private final Set<Ref> backingOff = new HashSet<>();
    /** Since when (epoch ms), for the oldest-waiting-retry gauge. */
    private final Map<Ref, Long> waitingRetries = new HashMap<>();
    private long callSequence;

    CallSlots(int maxInFlight) {
        this.maxInFlight = maxInFlight;
    }

    boolean full() {
        return inFlight.size() >= maxInFlight;
    }

    int inFlight() {
        return inFlight.size();
    }

    /** Everything this attempt holds is done: no call in flight, nothing waiting for a slot or a backoff. */
    boolean idle() {
        return inFlight.isEmpty() && waiting.isEmpty() && backingOff.isEmpty();
    }

    boolean hasCalls() {
        return !inFlight.isEmpty();
    }

    Call startCall(String key, String eventId, String stage) {
        Call call = new Call(++callSequence, key, eventId, stage, System.nanoTime());
        inFlight.put(new Ref(key, eventId), call);
        return call;
    }

    /** Ends {@code call} if it is still the event's current call; false if it was superseded. */
    boolean endCall(Call call) {
        Ref ref = new Ref(call.key(), call.eventId());
        if (inFlight.get(ref) != call) {
            return false;
        }
        inFlight.remove(ref);
        return true;
    }

    /** Ends the event's current call, if any (its deadline passed); the late result is ignored. */
    Call abandonCall(String key, String eventId) {
        return inFlight.remove(new Ref(key, eventId));
    }

    void queue(String key, String eventId) {
        waiting.add(new Ref(key, eventId));
    }

    boolean isQueued(String key, String eventId) {
        return waiting.contains(new Ref(key, eventId));
    }

    /** The next event waiting for a slot, if a slot is free; null otherwise. */
    Ref nextQueued() {
        return full() ? null : waiting.poll();
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
