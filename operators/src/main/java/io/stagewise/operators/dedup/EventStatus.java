package io.stagewise.operators.dedup;

/** Where an event id stands in the pipeline; kept in keyed state by event id. */
public enum EventStatus {
    IN_PROGRESS,
    COMPLETED,
    DEAD_LETTERED
}
