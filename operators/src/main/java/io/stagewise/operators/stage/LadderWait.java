package io.stagewise.operators.stage;

import io.stagewise.operators.event.DeadLetter;

/**
 * Keyed state of one event waiting in the retry ladder ({@link StageStateDescriptors#LADDER_WAIT}):
 * the retry record it was sent with, so the watchdog can re-send it (or dead-letter the event) if
 * the record never comes back. No TTL: cleared when the record is admitted or the event
 * dead-lettered. A Flink POJO: never Kryo.
 */
public class LadderWait {
    /** The retry record as sent: step, due time, progress, the event's bytes and origin. */
    public DeadLetter record;
    /** How often the watchdog has re-sent it. */
    public int resends;
    /** Timestamp of the watchdog timer (processing time). */
    public long timer;

    public LadderWait() {}

    LadderWait(DeadLetter record) {
        this.record = record;
    }
}
