package io.stagewise.operators.event;

/**
 * The type of the event streams between ingestion and the stage engine: {@link Event} with its
 * explicit {@link EventSerializer} instead of Flink's reflective POJO serializer. The Kafka source
 * ({@code EventDeserializer}) and the malformed split declare it, so the keyed shuffle uses it.
 *
 * <p>Keyed state is not affected: state descriptors that name {@code TypeInformation.of(Event.class)}
 * keep the POJO layout they were written with, so savepoints restore unchanged.
 */
public final class EventTypeInfo extends ExplicitTypeInfo<Event> {
    private static final long serialVersionUID = 1L;

    public static final EventTypeInfo INSTANCE = new EventTypeInfo();

    private EventTypeInfo() {
        super(Event.class, EventSerializer.INSTANCE, "Event(explicit serializer v2)");
    }
}
