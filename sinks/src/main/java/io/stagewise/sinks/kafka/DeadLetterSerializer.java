package io.stagewise.sinks.kafka;

import org.apache.flink.annotation.PublicEvolving;
import io.stagewise.operators.event.DeadLetter;
import io.stagewise.operators.event.StagewiseHeaders;
import java.nio.charset.StandardCharsets;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.internals.RecordHeaders;

/**
 * Writes a {@link DeadLetter} to the DLQ topic: the original key and value bytes, untouched, and
 * every header of docs/topics-and-headers.md.
 */
@PublicEvolving
public final class DeadLetterSerializer implements KafkaRecordSerializationSchema<DeadLetter> {
    private static final long serialVersionUID = 1L;

    private final String topic;

    public DeadLetterSerializer(String topic) {
        this.topic = topic;
    }

    @Override
    public ProducerRecord<byte[], byte[]> serialize(DeadLetter letter, KafkaSinkContext context, Long timestamp) {
        // Partition left to the producer: a dead letter keeps its key, so one key's letters stay together.
        return new ProducerRecord<>(topic, null, null, letter.recordKey, letter.value, headers(letter));
    }

    /** The Stagewise headers of a dead letter or retry record (docs/topics-and-headers.md). */
    static RecordHeaders headers(DeadLetter letter) {
        RecordHeaders headers = new RecordHeaders();
        put(headers, StagewiseHeaders.EVENT_ID, letter.eventId == null ? "" : letter.eventId);
        put(headers, StagewiseHeaders.ORIGIN_TOPIC, letter.origin.topic);
        put(headers, StagewiseHeaders.ORIGIN_PARTITION, Integer.toString(letter.origin.partition));
        put(headers, StagewiseHeaders.ORIGIN_OFFSET, Long.toString(letter.origin.offset));
        put(headers, StagewiseHeaders.ORIGIN_TIMESTAMP, Long.toString(letter.origin.timestamp));
        put(headers, StagewiseHeaders.RETRY_COUNT, Integer.toString(letter.retryCount));
        put(headers, StagewiseHeaders.FAILURE_STAGE, letter.stage);
        put(headers, StagewiseHeaders.FAILURE_REASON, letter.reason.headerValue());
        put(headers, StagewiseHeaders.FAILURE_CLASS, letter.failureClass == null ? "" : letter.failureClass);
        put(headers, StagewiseHeaders.FAILURE_MESSAGE, DeadLetter.truncate(letter.failureMessage));
        put(headers, StagewiseHeaders.FAILURE_AT, Long.toString(letter.failureAt));
        put(headers, StagewiseHeaders.PROGRESS, letter.progress == null ? "{}" : letter.progress);
        if (letter.replayOf != null) {
            put(headers, StagewiseHeaders.REPLAY_OF, letter.replayOf);
        }
        return headers;
    }

    static void put(RecordHeaders headers, String name, String value) {
        headers.add(name, value.getBytes(StandardCharsets.UTF_8));
    }
}
