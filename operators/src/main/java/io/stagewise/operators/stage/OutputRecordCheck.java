package io.stagewise.operators.stage;

import io.stagewise.operators.event.CompletedEvent;
import java.io.Serializable;
import java.util.Optional;
import org.apache.flink.annotation.PublicEvolving;

/**
 * Tells the stage engine, before it emits a completed event, whether the output topic can take the
 * record the event becomes. One the topic would refuse (a record over its {@code max.message.bytes}
 * or the producer's {@code max.request.size}) would fail the output sink on every restart: the
 * engine dead-letters that event instead (reason {@code error}, stage {@code output}), so the job keeps running and
 * the event is kept, with its progress, for a replay once the topic is large enough.
 *
 * <p>Implementations measure with the output sink's own serializer (see docs/failures.md).
 */
@PublicEvolving
@FunctionalInterface
public interface OutputRecordCheck extends Serializable {
    /** Accepts every record: for outputs without a size limit (tests, non-Kafka sinks). */
    OutputRecordCheck NONE = done -> Optional.empty();

    /**
     * Empty when the output record of {@code done} fits; otherwise why not, naming the event id, the
     * record's size, the limit and the setting that sets it.
     */
    Optional<String> tooLarge(CompletedEvent done);
}
