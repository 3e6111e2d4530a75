package io.stagewise.sinks.kafka;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.util.ByteArrayBuilder;
import org.apache.flink.annotation.PublicEvolving;
import io.stagewise.operators.event.CompletedEvent;
import io.stagewise.operators.event.StagewiseHeaders;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeaders;

/**
 * Writes a {@link CompletedEvent} to the output topic: key = business key, value = JSON
 * {@code {"id", "type", "key", "payload", "outputs", "completedAt", "origin"}}, header
 * {@code stagewise.event-id}. The JSON is written with one streaming generator into a buffer, both
 * reused across records; payload and stage outputs are embedded as the JSON they already are, the
 * payload as the input record's own UTF-8 bytes (docs/event-format.md).
 */
@PublicEvolving
public final class CompletedEventSerializer implements KafkaRecordSerializationSchema<CompletedEvent> {
    private static final long serialVersionUID = 1L;
    /** Root values written one after the other with no separator: each record's bytes are exactly its JSON. */
    private static final JsonFactory JSON = new JsonFactory().setRootValueSeparator(null);

    private final String topic;
    /** Reused for every record of this sink writer: the JSON is generated straight into it. */
    private transient ByteArrayBuilder buffer;
    private transient JsonGenerator json;

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

    /**
     * The bytes the output record of {@code done} carries (key, value, header names and values),
     * serialized exactly as {@link #serialize} does; without Kafka's record and batch framing.
     */
    public int recordBytes(CompletedEvent done) {
        ProducerRecord<byte[], byte[]> record = serialize(done, null, null);
        int bytes = (record.key() == null ? 0 : record.key().length) + record.value().length;
        for (Header header : record.headers()) {
            bytes += header.key().getBytes(StandardCharsets.UTF_8).length + (header.value() == null ? 0 : header.value().length);
        }
        return bytes;
    }

    /**
     * The value of one output record. One generator writes every record of this sink writer into one
     * buffer, as a sequence of root values without separator; each record's bytes are taken and the
     * buffer reset. After a failed write the generator is dropped, so no half-written state carries over.
     */
    byte[] toJson(CompletedEvent done) {
        try {
            if (json == null) {
                buffer = new ByteArrayBuilder(512);
                json = JSON.createGenerator(buffer);
            }
            json.writeStartObject();
            json.writeStringField("id", done.eventId);
            json.writeStringField("type", done.type);
            json.writeStringField("key", done.key);
            // Both are JSON our own parser and stages produced: embed them without parsing again.
            json.writeFieldName("payload");
            if (done.payloadBytes != null) {
                // The payload's bytes as they arrived: the generator writes the ':' of an (empty) raw
                // value, then the bytes go straight into the buffer behind it.
                json.writeRawValue("");
                json.flush();
                buffer.write(done.payloadBytes, done.payloadStart, done.payloadLength);
            } else {
                json.writeRawValue(done.payload == null ? "{}" : done.payload);
            }
            json.writeFieldName("outputs");
            json.writeRawValue(done.outputs == null ? "{}" : done.outputs);
            json.writeNumberField("completedAt", done.completedAt);
            json.writeObjectFieldStart("origin");
            json.writeStringField("topic", done.origin.topic);
            json.writeNumberField("partition", done.origin.partition);
            json.writeNumberField("offset", done.origin.offset);
            json.writeNumberField("timestamp", done.origin.timestamp);
            json.writeEndObject();
            json.writeEndObject();
            json.flush();
        } catch (IOException | RuntimeException e) {
            json = null;
            // Writing into memory fails only on a bug, never on bad input.
            throw new UncheckedIOException("cannot serialize completed event " + done.eventId,
                    e instanceof IOException io ? io : new IOException(e));
        }
        byte[] value = buffer.toByteArray();
        buffer.reset();
        return value;
    }
}
