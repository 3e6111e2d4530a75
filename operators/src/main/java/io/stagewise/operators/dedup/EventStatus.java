package io.stagewise.operators.dedup;

import org.apache.flink.annotation.Internal;

/** Where an event id stands in the pipeline; kept in keyed state by event id. */
@Internal
public enum EventStatus {
    IN_PROGRESS,
    COMPLETED,
    DEAD_LETTERED
}
