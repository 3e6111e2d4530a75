package io.stagewise.savepoints.internal;

import org.apache.flink.annotation.Internal;

/**
 * One entry of the stage operator's keyed state as read from a savepoint: a dedup record, a
 * workflow under way, a retry-ladder wait, a key's running event or one of its parked events.
 * A Flink POJO (public fields, no-arg constructor): never Kryo.
 */
@Internal
public class StageStateEntry {
    /** What kind of entry this is. */
    public enum Kind { STATUS, WORKFLOW, LADDER_WAIT, LADDER_STEP, ACTIVE, PARKED }

    public Kind kind;
    /** The business key the entry is kept under. */
    public String key;
    public String eventId;
    /** {@link Kind#STATUS}: the dedup status. */
    public String status;
    /** {@link Kind#WORKFLOW}: the phase (IN_FLIGHT, BACKOFF, WAITING); null while parked behind nothing. */
    public String phase;
    /** The pending stage (workflow) or the stage the event failed in (ladder wait). */
    public String stage;
    /** The event's progress as JSON (completed stages with outputs, pending stage, attempts, key generation). */
    public String progress;
    /** {@link Kind#WORKFLOW}: attempts of the pending stage in the in-operator tier. */
    public int tierAttempts;
    /** Processing-time timer of the entry (workflow, ladder watchdog), 0 if none. */
    public long timer;
    /** The retry step the event is in (0 before the ladder). */
    public int step;
    /** When the event's retry record is due (0 before the ladder). */
    public long dueAt;
    /** {@link Kind#LADDER_WAIT}: how often the watchdog re-sent the record. */
    public int resends;
    /** Epoch millis the entry's age is measured from (the input record's timestamp, or the failure time in the ladder); 0 if unknown. */
    public long since;
    /** {@link Kind#PARKED}: position in the key's queue. */
    public long sequence;

    public StageStateEntry() {}

    /**
     * True if the event waits in its retry step: its record is still in the retry topic
     * ({@link Kind#LADDER_WAIT}), or it was read back before its due time and waits for it in a
     * timer (a {@link Kind#WORKFLOW} in BACKOFF whose timer is the record's due time).
     */
    public boolean inRetryStep() {
        return kind == Kind.LADDER_WAIT || kind == Kind.LADDER_STEP
                || (kind == Kind.WORKFLOW && "BACKOFF".equals(phase) && step > 0 && timer == dueAt);
    }

    StageStateEntry(Kind kind, String key, String eventId) {
        this.kind = kind;
        this.key = key;
        this.eventId = eventId;
    }
}
