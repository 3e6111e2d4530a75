package io.stagewise.sinks.kafka;

import io.stagewise.operators.event.CompletedEvent;
import io.stagewise.operators.stage.OutputRecordCheck;
import java.util.Optional;
import org.apache.flink.annotation.PublicEvolving;

/**
 * The size limit of the output topic, checked with the output sink's own serializer
 * ({@link CompletedEventSerializer}): a completed event whose record would exceed it is refused, so
 * the stage engine dead-letters it instead of failing the transactional output sink on every
 * restart (docs/failures.md).
 *
 * <p>The limit is the smaller of the topic's {@code max.message.bytes} and the producer's
 * {@code max.request.size}; a record must fit in it with {@link #FRAMING_BYTES} to spare for Kafka's
 * record batch header (61 bytes), the record's own framing and a compression codec's framing.
 * Most records are far below the limit: an upper bound computed from string lengths clears them
 * without serializing twice; only records near the limit are serialized to be measured exactly.
 */
@PublicEvolving
public final class OutputRecordLimit implements OutputRecordCheck {
    private static final long serialVersionUID = 1L;

    /** Room kept for the batch header, record framing (varints, attributes) and compression framing. */
    public static final int FRAMING_BYTES = 512;
    /** Above the JSON field names, punctuation and the five numbers of a record (origin, completedAt). */
    private static final int FIXED_JSON_BYTES = 512;

    private final String topic;
    private final int limitBytes;
    /** What {@code limitBytes} comes from, named in the dead letter's message. */
    private final String limitSource;
    private transient CompletedEventSerializer serializer;

    /**
     * @param limitBytes the smaller of the topic's {@code max.message.bytes} and the producer's
     *     {@code max.request.size}
     * @param limitSource the setting {@code limitBytes} comes from, as a reader would change it
     */
    public OutputRecordLimit(String topic, int limitBytes, String limitSource) {
        if (limitBytes <= FRAMING_BYTES) {
            throw new IllegalArgumentException("the output record limit of topic '" + topic + "' (" + limitSource
                    + ") is " + limitBytes + " bytes: no record fits in it with " + FRAMING_BYTES + " bytes of framing");
        }
        this.topic = topic;
        this.limitBytes = limitBytes;
        this.limitSource = limitSource;
    }

    public int limitBytes() {
        return limitBytes;
    }

    @Override
    public Optional<String> tooLarge(CompletedEvent done) {
        int allowed = limitBytes - FRAMING_BYTES;
        if (upperBound(done) <= allowed) {
            return Optional.empty();
        }
        if (serializer == null) {
            serializer = new CompletedEventSerializer(topic);
        }
        int bytes = serializer.recordBytes(done);
        if (bytes <= allowed) {
            return Optional.empty();
        }
        return Optional.of("the output record of event " + done.eventId + " is " + bytes + " bytes (key, value and "
                + "headers), over the " + allowed + " bytes output topic '" + topic + "' takes: " + limitSource + " is "
                + limitBytes + " bytes, less " + FRAMING_BYTES + " bytes of Kafka framing. Raise it and replay the event");
    }

    /**
     * At least the record's size: payload and outputs are embedded as they are (at most 3 UTF-8
     * bytes per char), the other strings escaped (at most 6 bytes per char, {@code \\u00XX}).
     */
    private static long upperBound(CompletedEvent done) {
        long raw = (done.payloadBytes != null ? done.payloadLength : length(done.payload)) + length(done.outputs);
        long escaped = length(done.eventId) + length(done.type) + length(done.key)
                + (done.origin == null ? 0 : length(done.origin.topic));
        long keyAndHeader = length(done.key) + length(done.eventId);
        return 3 * raw + 6 * escaped + 3 * keyAndHeader + FIXED_JSON_BYTES;
    }

    private static long length(String text) {
        return text == null ? 0 : text.length();
    }
}
