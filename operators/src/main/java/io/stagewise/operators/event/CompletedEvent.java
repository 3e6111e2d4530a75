package io.stagewise.operators.event;

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
    public String payload;
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
        done.payload = event.payload;
        done.outputs = outputs;
        done.completedAt = completedAt;
        done.origin = event.origin;
        return done;
    }

    @Override
    public String toString() {
        return "CompletedEvent{eventId=" + eventId + ", key=" + key + "}";
    }
}
