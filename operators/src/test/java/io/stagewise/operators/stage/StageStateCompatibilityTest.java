package io.stagewise.operators.stage;

import static org.assertj.core.api.Assertions.assertThat;

import io.stagewise.operators.dedup.EventStatus;
import io.stagewise.operators.event.CompletedEvent;
import io.stagewise.operators.event.Event;
import io.stagewise.operators.event.Origin;
import io.stagewise.operators.retry.RetryLadder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.runtime.state.KeyedStateBackend;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.state.rocksdb.EmbeddedRocksDBStateBackend;
import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.runtime.tasks.mailbox.Mail;
import org.apache.flink.streaming.runtime.tasks.mailbox.TaskMailbox;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.slf4j.LoggerFactory;

/**
 * Restores state written in the layout of the version before the ladder watchdog and the parked
 * queue (a key's waiting events in one list, {@code ladder-step} without a record) into today's
 * {@link StageOperator}: nothing waiting there is stranded.
 */
class StageStateCompatibilityTest {
    private static final Duration TTL = Duration.ofHours(1);

    private KeyedOneInputStreamOperatorTestHarness<String, Event, CompletedEvent> harness;

    @BeforeEach
    void reset() {
        ScriptedStage.reset();
    }

    @AfterEach
    void close() throws Exception {
        if (harness != null) {
            harness.close();
        }
    }

    /** Writes keyed state as the earlier version did, through the same descriptors. */
    private static final class LegacyWriter extends AbstractStreamOperator<Void> implements OneInputStreamOperator<Event, Void> {
        private static final long serialVersionUID = 1L;

        @Override
        public void processElement(StreamRecord<Event> element) throws Exception {
            Event event = element.getValue();
            getRuntimeContext().getMapState(StageStateDescriptors.status(TTL)).put(event.id, EventStatus.IN_PROGRESS);
            if (event.type.equals("in-ladder")) {
                getRuntimeContext().getState(StageStateDescriptors.active()).update(event.id);
                getRuntimeContext().getMapState(StageStateDescriptors.ladderStep(TTL)).put(event.id, 1);
            } else {
                getRuntimeContext().getListState(StageStateDescriptors.parked()).add(event);
            }
        }
    }

    private static Event event(String id, String type) {
        Event event = new Event();
        event.id = id;
        event.type = type;
        event.key = "acct-1";
        event.payload = "{}";
        event.progress = "{}";
        event.value = ("{\"id\":\"" + id + "\"}").getBytes();
        event.origin = new Origin("payments", 0, id.hashCode() & 0xffff, 1000);
        return event;
    }

    private static OperatorSubtaskState legacySnapshot(boolean rocksDb) throws Exception {
        try (KeyedOneInputStreamOperatorTestHarness<String, Event, Void> writer =
                     new KeyedOneInputStreamOperatorTestHarness<>(new LegacyWriter(), e -> e.key, Types.STRING)) {
            if (rocksDb) {
                writer.setStateBackend(new EmbeddedRocksDBStateBackend());
            }
            writer.open();
            writer.processElement(new StreamRecord<>(event("a1", "in-ladder")));
            writer.processElement(new StreamRecord<>(event("a2", "parked")));
            writer.processElement(new StreamRecord<>(event("a3", "parked")));
            return writer.snapshot(1, 1);
        }
    }

    private void restore(boolean perKeyOrdering, boolean rocksDb) throws Exception {
        StageSettings settings = new StageSettings(RetrySettings.builder().maxAttempts(1).jitter(0).build(),
                Duration.ofSeconds(5), 10, TTL, new RetryLadder(1, Duration.ofSeconds(5), 4), perKeyOrdering);
        Workflow workflow = Workflow.named("test").remote("charge", new ScriptedStage("charge")).build();
        harness = new KeyedOneInputStreamOperatorTestHarness<>(new StageOperatorFactory(workflow, settings), e -> e.key,
                Types.STRING);
        if (rocksDb) {
            harness.setStateBackend(new EmbeddedRocksDBStateBackend());
        }
        harness.initializeState(legacySnapshot(rocksDb));
        harness.open();
    }

    /** Only dedup entries stay: no state of an event in flight, parked or in the ladder, no timer (either backend). */
    private void assertNoInFlightStateLeft() throws Exception {
        KeyedStateBackend<String> backend = harness.getOperator().getKeyedStateBackend();
        for (String name : new String[] {StageStateDescriptors.WORKFLOW, StageStateDescriptors.WORKFLOW_RUN, StageStateDescriptors.LADDER_STEP,
                StageStateDescriptors.LADDER_WAIT, StageStateDescriptors.ACTIVE, StageStateDescriptors.PARKED,
                StageStateDescriptors.PARKED_EVENTS, StageStateDescriptors.PARKED_QUEUE}) {
            try (Stream<String> keys = backend.getKeys(name, VoidNamespace.INSTANCE)) {
                assertThat(keys.count()).as("keys holding " + name).isZero();
            }
        }
        assertThat(harness.numProcessingTimeTimers()).isZero();
    }

    private void drain() throws Exception {
        TaskMailbox mailbox = harness.getTaskMailbox();
        Optional<Mail> mail;
        while ((mail = mailbox.tryTake(TaskMailbox.MIN_PRIORITY)).isPresent()) {
            mail.get().run();
        }
    }

    private List<String> completedIds() {
        return harness.extractOutputValues().stream().map(c -> c.eventId).collect(Collectors.toList());
    }

    private void retryRecordOfA1Returns() throws Exception {
        Event record = event("a1", "payment.requested");
        record.retryStep = 1;
        record.retryCount = 1;
        record.dueAt = 1;
        harness.processElement(new StreamRecord<>(record));
        drain();
    }

    @ParameterizedTest(name = "RocksDB: {0}")
    @ValueSource(booleans = {false, true})
    void aPerKeyRestoreAdmitsTheOldRetryRecordAndReleasesTheOldListInOrder(boolean rocksDb) throws Exception {
        restore(true, rocksDb);
        harness.setProcessingTime(10);
        drain();
        assertThat(completedIds()).as("a2 and a3 still wait behind a1").isEmpty();

        retryRecordOfA1Returns();
        assertThat(completedIds()).containsExactly("a1", "a2", "a3");
        assertThat(ScriptedStage.CALLS).extracting(ScriptedStage.CallRecord::key)
                .containsExactly("a1:charge", "a2:charge", "a3:charge");
        assertThat(harness.numProcessingTimeTimers()).isZero();
        assertNoInFlightStateLeft();
    }

    @ParameterizedTest(name = "RocksDB: {0}")
    @ValueSource(booleans = {false, true})
    void anUnorderedRestoreStartsTheOldListAtOnce(boolean rocksDb) throws Exception {
        restore(false, rocksDb);
        harness.setProcessingTime(10);
        drain();
        assertThat(completedIds()).containsExactly("a2", "a3");

        retryRecordOfA1Returns();
        assertThat(completedIds()).containsExactly("a2", "a3", "a1");
        assertThat(harness.numProcessingTimeTimers()).isZero();
        assertNoInFlightStateLeft();
    }

    /** A hot key on RocksDB: every waiting event is one entry, so n releases cost O(n), not O(n^2). */
    @Test
    void aHotKeyWithManyParkedEventsOnRocksDb() throws Exception {
        ScriptedStage.SCRIPTS.put("charge", ctx -> ctx.eventId().equals("h00000")
                ? ScriptedStage.pending(ctx) : CompletableFuture.completedFuture(ScriptedStage.ok("charge_id", "ch")));
        StageSettings settings = new StageSettings(RetrySettings.builder().maxAttempts(1).jitter(0).build(),
                Duration.ofSeconds(5), 10, TTL, RetryLadder.NONE, true);
        Workflow workflow = Workflow.named("test").remote("charge", new ScriptedStage("charge")).build();
        harness = new KeyedOneInputStreamOperatorTestHarness<>(new StageOperatorFactory(workflow, settings), e -> e.key,
                Types.STRING);
        harness.setStateBackend(new EmbeddedRocksDBStateBackend());
        harness.open();
        int n = Integer.getInteger("stagewise.test.hot-key-events", 3000);
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Event event = event(String.format("h%05d", i), "payment.requested");
            event.value = new byte[512]; // a realistic record: the old list rewrote every byte per release
            ids.add(event.id);
            harness.processElement(new StreamRecord<>(event));
        }
        long started = System.nanoTime();
        ScriptedStage.PENDING.values().forEach(f -> f.complete(ScriptedStage.ok("charge_id", "ch")));
        drain();
        LoggerFactory.getLogger(StageStateCompatibilityTest.class).info("Released {} parked events of one key on RocksDB in {} ms",
                n, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
        assertThat(completedIds()).containsExactlyElementsOf(ids);
        assertNoInFlightStateLeft();
    }
}
