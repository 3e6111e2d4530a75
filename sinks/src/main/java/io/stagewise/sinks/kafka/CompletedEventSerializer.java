package io.stagewise.sinks.kafka;

import org.apache.flink.annotation.PublicEvolving;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.util.RawValue;
import io.stagewise.operators.event.CompletedEvent;
import io.stagewise.operators.event.StagewiseHeaders;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.internals.RecordHeaders;

/**
 * Writes a {@link CompletedEvent} to the output topic: key = business key, value = JSON
 * {@code {"id", "type", "key", "payload", "outputs", "completedAt", "origin"}}, header
 * {@code stagewise.event-id}.
 */
@PublicEvolving
public final class CompletedEventSerializer implements KafkaRecordSerializationSchema<CompletedEvent> {
    private static final long serialVersionUID = 1L;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final String topic;

    public CompletedEventSerializer(String topic) {
        this.topic = topic;
    }

    @Override
    public ProducerRecord<byte[], byte[]> serialize(CompletedEvent done, KafkaSinkContext context, Long timestamp) {
        RecordHeaders headers = new RecordHeaders();
        headers.add(StagewiseHeaders.EVENT_ID, done.eventId.getBytes(StandardCharsets.UTF_8));
        byte[] key = done.key == null ? null : done.key.getBytes(StandardCharsets.UTF_8);
        return new ProducerRecord<>(topic, null, null, key, toJson(done), headers);
    }

    static byte[] toJson(CompletedEvent done) {
        try {
            ObjectNode node = JSON.createObjectNode();
            node.put("id", done.eventId);
            node.put("type", done.type);
            node.put("key", done.key);
            // Both are JSON text our own parser and stages produced: embed them without parsing again.
            node.putRawValue("payload", new RawValue(done.payload == null ? "{}" : done.payload));
            node.putRawValue("outputs", new RawValue(done.outputs == null ? "{}" : done.outputs));
            node.put("completedAt", done.completedAt);
            ObjectNode origin = node.putObject("origin");
            origin.put("topic", done.origin.topic);
            origin.put("partition", done.origin.partition);
            origin.put("offset", done.origin.offset);
            origin.put("timestamp", done.origin.timestamp);
            return JSON.writeValueAsBytes(node);
        } catch (IOException e) {
            // payload and outputs were produced by our own parser and stages: this is a bug, not bad input.
            throw new UncheckedIOException("cannot serialize completed event " + done.eventId, e);
        }
    }
}
