package io.stagewise.operators.stage;

/**
 * Per-key ordering: the bounds of a key's queue of waiting events
 * ({@link StageStateDescriptors#PARKED_EVENTS}, sequence number -> event): entries {@code head}
 * (inclusive) to {@code tail} (exclusive). Append and pop touch one entry each, whatever the
 * length. A Flink POJO: never Kryo.
 */
public class ParkedQueue {
    public long head;
    public long tail;

    public ParkedQueue() {}

    boolean isEmpty() {
        return head >= tail;
    }
}
