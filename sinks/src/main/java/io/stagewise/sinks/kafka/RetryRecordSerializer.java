package io.stagewise.sinks.kafka;

import org.apache.flink.annotation.PublicEvolving;
import io.stagewise.operators.event.DeadLetter;
import io.stagewise.operators.event.StagewiseHeaders;
import io.stagewise.operators.retry.RetryLadder;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.internals.RecordHeaders;

/**
 * Writes a retry record to {@code T.retry.<step>}: the original key and value bytes, the headers
 * of a dead letter, and {@code stagewise.retry.due-at}, before which it must not be retried.
 */
@PublicEvolving
public final class RetryRecordSerializer implements KafkaRecordSerializationSchema<DeadLetter> {
    private static final long serialVersionUID = 1L;

    private final String inputTopic;

    public RetryRecordSerializer(String inputTopic) {
        this.inputTopic = inputTopic;
    }

    @Override
    public ProducerRecord<byte[], byte[]> serialize(DeadLetter retry, KafkaSinkContext context, Long timestamp) {
        if (retry.retryStep < 1) {
            throw new IllegalArgumentException("retry record of " + retry.eventId + " has no retry step");
        }
        RecordHeaders headers = DeadLetterSerializer.headers(retry);
        DeadLetterSerializer.put(headers, StagewiseHeaders.RETRY_DUE_AT, Long.toString(retry.dueAt));
        return new ProducerRecord<>(RetryLadder.topic(inputTopic, retry.retryStep), null, null,
                retry.recordKey, retry.value, headers);
    }
}
