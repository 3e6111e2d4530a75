package io.stagewise.operators.event;

import static org.assertj.core.api.Assertions.assertThat;

import io.stagewise.operators.ingest.EventDeserializer;
import io.stagewise.operators.ingest.MalformedSplit;
import java.nio.charset.StandardCharsets;
import org.apache.flink.api.common.serialization.SerializerConfigImpl;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.java.typeutils.PojoTypeInfo;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.junit.jupiter.api.Test;

class EventSerializersTest {
    private static <T> T roundTrip(TypeSerializer<T> serializer, T value) throws Exception {
        DataOutputSerializer out = new DataOutputSerializer(64);
        serializer.serialize(value, out);
        // The raw copy must carry exactly the same bytes on.
        DataOutputSerializer copied = new DataOutputSerializer(64);
        serializer.copy(new DataInputDeserializer(out.getCopyOfBuffer()), copied);
        assertThat(copied.getCopyOfBuffer()).isEqualTo(out.getCopyOfBuffer());
        DataInputDeserializer in = new DataInputDeserializer(out.getCopyOfBuffer());
        T back = serializer.deserialize(in);
        assertThat(in.available()).isZero();
        return back;
    }

    private static Event full() {
        Event event = new Event();
        event.id = "pay-1";
        event.type = "payment.requested";
        event.key = "acct-7";
        event.occurredAt = "2026-11-27T18:00:00Z";
        event.payload = "{\"amount\":\"12.50\",\"note\":\"ü € \\\"x\\\"\"}";
        event.recordKey = "acct-7".getBytes(StandardCharsets.UTF_8);
        event.value = "{\"id\":\"pay-1\"}".getBytes(StandardCharsets.UTF_8);
        event.origin = new Origin("payments", 2, 41, 1_700_000_000_000L);
        event.replayOf = "payments.dlq/0/3";
        event.progress = "{\"validate\":{}}";
        event.retryCount = 4;
        event.retryStep = 2;
        event.dueAt = 99;
        event.malformed = null;
        return event;
    }

    @Test
    void eventRoundTripsEveryFieldIncludingNulls() throws Exception {
        assertThat(roundTrip(EventSerializer.INSTANCE, full())).usingRecursiveComparison().isEqualTo(full());

        Event sparse = new Event();
        sparse.id = "";
        sparse.malformed = "not valid JSON";
        assertThat(roundTrip(EventSerializer.INSTANCE, sparse)).usingRecursiveComparison().isEqualTo(sparse);
    }

    @Test
    void eventCopyIsDeep() {
        Event original = full();
        Event copy = EventSerializer.INSTANCE.copy(original);
        assertThat(copy).usingRecursiveComparison().isEqualTo(original);
        assertThat(copy.value).isNotSameAs(original.value);
        assertThat(copy.recordKey).isNotSameAs(original.recordKey);
        assertThat(copy.origin).isNotSameAs(original.origin);
    }

    @Test
    void completedEventRoundTripsEveryField() throws Exception {
        TypeSerializer<CompletedEvent> serializer =
                TypeInformation.of(CompletedEvent.class).createSerializer(new SerializerConfigImpl());
        assertThat(serializer).isSameAs(CompletedEventTypeInfo.FieldSerializer.INSTANCE);
        CompletedEvent done = CompletedEvent.of(full(), "{\"validate\":{\"ok\":true}}", 42);
        assertThat(roundTrip(serializer, done)).usingRecursiveComparison().isEqualTo(done);
        assertThat(serializer.copy(done)).usingRecursiveComparison().isEqualTo(done);

        CompletedEvent empty = new CompletedEvent();
        assertThat(roundTrip(serializer, empty)).usingRecursiveComparison().isEqualTo(empty);
    }

    /** The shuffle uses the explicit serializer, while keyed state keeps the POJO layout savepoints hold. */
    @Test
    void streamsUseTheExplicitTypeAndStateKeepsThePojo() {
        assertThat(new EventDeserializer(1024).getProducedType()).isEqualTo(EventTypeInfo.INSTANCE);
        assertThat(new MalformedSplit().getProducedType()).isEqualTo(EventTypeInfo.INSTANCE);
        assertThat(TypeInformation.of(Event.class)).isInstanceOf(PojoTypeInfo.class);
    }
}
