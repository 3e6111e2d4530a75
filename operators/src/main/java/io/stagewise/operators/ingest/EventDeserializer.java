package io.stagewise.operators.ingest;

import org.apache.flink.annotation.PublicEvolving;
import io.stagewise.operators.event.Event;
import io.stagewise.operators.event.EventTypeInfo;
import io.stagewise.operators.event.Origin;
import io.stagewise.operators.retry.RetryLadder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.connector.kafka.source.reader.deserializer.KafkaRecordDeserializationSchema;
import org.apache.flink.util.Collector;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;

/**
 * The Kafka source's deserializer. Delivers every record as an {@link Event}, malformed or not,
 * and never throws: a poison pill becomes a dead letter instead of a crash loop.
 */
@PublicEvolving
public final class EventDeserializer implements KafkaRecordDeserializationSchema<Event> {
    private static final long serialVersionUID = 1L;

    private final EventParser parser;
    /** The retry ladder step of the last topic seen: a source reads a handful of topics, so no regex per record. */
    private transient String lastTopic;
    private transient int lastStep;

    public EventDeserializer(int maxEventBytes) {
        this.parser = new EventParser(maxEventBytes);
    }

    @Override
    public void deserialize(ConsumerRecord<byte[], byte[]> record, Collector<Event> out) {
        Origin here = new Origin(record.topic(), record.partition(), record.offset(), record.timestamp());
        Event event = parser.parse(record.key(), record.value(), here, stagewiseHeaders(record.headers()));
        event.retryStep = retryStep(record.topic());
        out.collect(event);
    }

    private int retryStep(String topic) {
        if (!topic.equals(lastTopic)) {
            lastStep = RetryLadder.stepOf(topic);
            lastTopic = topic;
        }
        return lastStep;
    }

    /** The {@code stagewise.*} headers of a record, UTF-8 decoded, last value of each name; read-only. */
    public static Map<String, String> stagewiseHeaders(Headers recordHeaders) {
        // Input records mostly carry no Stagewise headers: no map for them.
        Map<String, String> headers = Map.of();
        for (Header header : recordHeaders) {
            if (header.key().startsWith("stagewise.") && header.value() != null) {
                if (headers.isEmpty()) {
                    headers = new HashMap<>();
                }
                headers.put(header.key(), new String(header.value(), StandardCharsets.UTF_8));
            }
        }
        return headers;
    }

    @Override
    public TypeInformation<Event> getProducedType() {
        return EventTypeInfo.INSTANCE;
    }
}
