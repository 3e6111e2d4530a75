package io.stagewise.operators.event;

import static org.assertj.core.api.Assertions.assertThat;

import io.stagewise.operators.ingest.EventDeserializer;
import io.stagewise.operators.ingest.EventParser;
import io.stagewise.operators.ingest.MalformedSplit;
import io.stagewise.operators.stage.StageOperator;
import io.stagewise.operators.stage.WorkflowRun;
import io.stagewise.operators.stage.WorkflowRunSerializer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.serialization.SerializerConfigImpl;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.common.typeutils.TypeSerializerSnapshot;
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

    private static Event parsed(String payload) {
        String value = "{\"id\":\"pay-9\",\"type\":\"payment.requested\",\"key\":\"acct-1\",\"payload\":" + payload + "}";
        return new EventParser(EventParser.DEFAULT_MAX_EVENT_BYTES).parse(null, value.getBytes(StandardCharsets.UTF_8),
                new Origin("payments", 0, 5, 1), Map.of());
    }

    /** A parsed event's payload crosses the shuffle once: as its place in the value bytes, not as text too. */
    @Test
    void parsedPayloadTravelsAsItsSliceOfTheValue() throws Exception {
        String payload = "{\"note\":\"ü € \\\"x\\\" \\u00e9 😀\",\"nested\":{\"a\":[1,{\"b\":null}]}}";
        Event event = parsed(payload);
        assertThat(event.malformed).isNull();
        assertThat(event.payload).isNull();
        assertThat(event.hasPayloadSlice()).isTrue();

        Event back = roundTrip(EventSerializer.INSTANCE, event);

        assertThat(back).usingRecursiveComparison().isEqualTo(event);
        assertThat(back.payloadText()).isEqualTo(payload);
        DataOutputSerializer slice = new DataOutputSerializer(64);
        EventSerializer.INSTANCE.serialize(event, slice);
        DataOutputSerializer text = new DataOutputSerializer(64);
        EventSerializer.formatOneReader().serialize(event, text);
        // Format 1 wrote the payload's characters (at least one byte each) next to the value; format 2
        // writes its offset and length (8 bytes) instead.
        assertThat(slice.length()).isLessThanOrEqualTo(text.length() - payload.length() + 8);
    }

    /**
     * An operator in between that declares {@code Event} as a POJO (a user's map, the failure injector)
     * and the parked-events state carry the slice too: the payload is never lost on the way.
     */
    @Test
    void thePojoSerializerCarriesThePayloadSlice() throws Exception {
        String payload = "{\"amount\":\"12.50\",\"eur\":\"€\"}";
        Event event = parsed(payload);

        TypeSerializer<Event> pojo = TypeInformation.of(Event.class).createSerializer(new SerializerConfigImpl());
        DataOutputSerializer out = new DataOutputSerializer(64);
        pojo.serialize(event, out);
        Event back = pojo.deserialize(new DataInputDeserializer(out.getCopyOfBuffer()));

        assertThat(back.payloadText()).isEqualTo(payload);
    }

    /**
     * State written by format 1 (fixtures written by the serializer before format 2, with its snapshot):
     * restores through the format 1 reader, is declared compatible after migration, and migrates to
     * format 2 with every field, in the event and in the workflow-run state that nests it.
     */
    @Test
    void formatOneStateRestoresAndMigrates() throws Exception {
        Path dir = Path.of(getClass().getResource("/compat/event-serializer-v1").toURI());
        TypeSerializerSnapshot<Event> old = TypeSerializerSnapshot.readVersionedSnapshot(
                new DataInputDeserializer(Files.readAllBytes(dir.resolve("event-serializer.snapshot"))),
                getClass().getClassLoader());

        assertThat(EventSerializer.INSTANCE.snapshotConfiguration().resolveSchemaCompatibility(old).isCompatibleAfterMigration())
                .isTrue();
        DataInputDeserializer in = new DataInputDeserializer(Files.readAllBytes(dir.resolve("events.bin")));
        List<Event> events = new ArrayList<>();
        while (in.available() > 0) {
            events.add(old.restoreSerializer().deserialize(in));
        }
        assertThat(events).extracting(e -> e.id).containsExactly("pay-0", "pay-1", "pay-2");
        assertThat(events.get(0).payloadText()).isEqualTo("{\"amount\":\"12.50\",\"note\":\"ü € \\\"x\\\" \\u00e9 😀\"}");
        assertThat(events.get(1).origin).isNull();
        assertThat(events.get(2).replayOf).isEqualTo("payments.dlq/0/7");
        assertThat(events.get(2).payloadText()).isEqualTo("{\"nested\":{\"a\":[1,2,{\"b\":null}],\"t\":true}}");
        for (Event event : events) {
            assertThat(roundTrip(EventSerializer.INSTANCE, event)).usingRecursiveComparison().isEqualTo(event);
        }

        TypeSerializerSnapshot<WorkflowRun> oldRun = TypeSerializerSnapshot.readVersionedSnapshot(
                new DataInputDeserializer(Files.readAllBytes(dir.resolve("workflow-run-serializer.snapshot"))),
                getClass().getClassLoader());
        assertThat(WorkflowRunSerializer.INSTANCE.snapshotConfiguration().resolveSchemaCompatibility(oldRun)
                .isCompatibleAfterMigration()).isTrue();
        DataInputDeserializer runs = new DataInputDeserializer(Files.readAllBytes(dir.resolve("workflow-runs.bin")));
        for (Event expected : events) {
            WorkflowRun run = oldRun.restoreSerializer().deserialize(runs);
            assertThat(run.event).usingRecursiveComparison().isEqualTo(expected);
            assertThat(roundTrip(WorkflowRunSerializer.INSTANCE, run).event).usingRecursiveComparison().isEqualTo(expected);
        }
        assertThat(runs.available()).isZero();
    }

    @Test
    void completedEventOfAParsedEventCarriesThePayloadBytes() throws Exception {
        String payload = "{\"amount\":\"12.50\",\"eur\":\"€\"}";
        CompletedEvent done = CompletedEvent.of(parsed(payload), "{}", 7);
        assertThat(done.payload).isNull();
        assertThat(done.payloadText()).isEqualTo(payload);

        CompletedEvent back = roundTrip(CompletedEventTypeInfo.FieldSerializer.INSTANCE, done);

        assertThat(back.payloadText()).isEqualTo(payload);
        assertThat(back.eventId).isEqualTo("pay-9");
        assertThat(CompletedEventTypeInfo.FieldSerializer.INSTANCE.copy(done).payloadText()).isEqualTo(payload);
    }

    @Test
    void deadLettersRoundTripEveryFieldAndTheSideOutputsUseTheExplicitType() throws Exception {
        DeadLetter letter = DeadLetter.retry(full(), "charge", new IllegalStateException("boom"), 3,
                "{\"stages\":{}}", 100, 2, 5000);
        DeadLetter back = roundTrip(DeadLetterTypeInfo.FieldSerializer.INSTANCE, letter);
        assertThat(back).usingRecursiveComparison().isEqualTo(letter);
        assertThat(back.value).isEqualTo(full().value);
        DeadLetter malformed = DeadLetter.malformed(new Event(), 7);
        assertThat(roundTrip(DeadLetterTypeInfo.FieldSerializer.INSTANCE, malformed)).usingRecursiveComparison()
                .isEqualTo(malformed);
        DeadLetter empty = new DeadLetter();
        assertThat(roundTrip(DeadLetterTypeInfo.FieldSerializer.INSTANCE, empty)).usingRecursiveComparison().isEqualTo(empty);
        assertThat(DeadLetterTypeInfo.FieldSerializer.INSTANCE.copy(letter)).usingRecursiveComparison().isEqualTo(letter);

        assertThat(MalformedSplit.DEAD_LETTERS.getTypeInfo()).isEqualTo(DeadLetterTypeInfo.INSTANCE);
        assertThat(StageOperator.DEAD_LETTERS.getTypeInfo()).isEqualTo(DeadLetterTypeInfo.INSTANCE);
        assertThat(StageOperator.RETRIES.getTypeInfo()).isEqualTo(DeadLetterTypeInfo.INSTANCE);
    }

    /** The shuffle uses the explicit serializer, while keyed state keeps the POJO layout savepoints hold. */
    @Test
    void streamsUseTheExplicitTypeAndStateKeepsThePojo() {
        assertThat(new EventDeserializer(1024).getProducedType()).isEqualTo(EventTypeInfo.INSTANCE);
        assertThat(new MalformedSplit().getProducedType()).isEqualTo(EventTypeInfo.INSTANCE);
        assertThat(TypeInformation.of(Event.class)).isInstanceOf(PojoTypeInfo.class);
    }
}
