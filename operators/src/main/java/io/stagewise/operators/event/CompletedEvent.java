package io.stagewise.operators.event;

import java.nio.charset.StandardCharsets;
import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.api.common.typeinfo.TypeInfo;

/**
 * One completed event, the content of the output topic: exactly one record per event id,
 * written by a transactional Kafka sink. Serialized by {@link CompletedEventTypeInfo}'s explicit
 * serializer: never Kryo, no reflection; never kept in state.
 */
@PublicEvolving
@TypeInfo(CompletedEventTypeInfo.Factory.class)
public class CompletedEvent {
    public String eventId;
    public String type;
    public String key;
    /** The payload as JSON text, or null when it is {@link #payloadBytes}' slice. */
    public String payload;
    /**
     * When not null: the payload's UTF-8 bytes, exactly as they arrived, at {@link #payloadStart} for
     * {@link #payloadLength} bytes (the input record's value, shared, never modified). The output writer
     * copies them as they are; nothing decodes or re-encodes them.
     */
    public byte[] payloadBytes;
    public int payloadStart;
    public int payloadLength;
    /** JSON object of stage name to stage output ({@code "{}"} when the workflow has no stages). */
    public String outputs;
    public long completedAt;
    public Origin origin;

    public CompletedEvent() {}

    public static CompletedEvent of(Event event, String outputs, long completedAt) {
        CompletedEvent done = new CompletedEvent();
        done.eventId = event.id;
        done.type = event.type;
        done.key = event.key;
        if (event.payload == null && event.hasPayloadSlice()) {
            done.payloadBytes = event.value;
            done.payloadStart = event.payloadStart;
            done.payloadLength = event.payloadLength;
        } else {
            done.payload = event.payloadText();
        }
        done.outputs = outputs;
        done.completedAt = completedAt;
        done.origin = event.origin;
        return done;
    }

    /** The payload as JSON text (decoded from {@link #payloadBytes} when it is held that way). */
    public String payloadText() {
        if (payloadBytes != null) {
            return new String(payloadBytes, payloadStart, payloadLength, StandardCharsets.UTF_8);
        }
        return payload == null ? "{}" : payload;
    }

    @Override
    public String toString() {
        return "CompletedEvent{eventId=" + eventId + ", key=" + key + "}";
    }
}
