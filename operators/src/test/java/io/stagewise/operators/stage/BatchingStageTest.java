package io.stagewise.operators.stage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.stagewise.operators.event.CompletedEvent;
import io.stagewise.operators.event.DeadLetter;
import io.stagewise.operators.event.Event;
import io.stagewise.operators.event.FailureReason;
import io.stagewise.operators.event.Origin;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Collectors;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.runtime.tasks.mailbox.Mail;
import org.apache.flink.streaming.runtime.tasks.mailbox.TaskMailbox;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.apache.flink.util.OutputTag;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** A batching remote stage inside the stage engine (operator harness): per-item outcomes, restores, linger. */
class BatchingStageTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration TTL = Duration.ofHours(1);

    private KeyedOneInputStreamOperatorTestHarness<String, Event, CompletedEvent> harness;

    @BeforeEach
    void reset() {
        ScriptedBatchCall.reset();
    }

    @AfterEach
    void close() throws Exception {
        if (harness != null) {
            harness.close();
        }
    }

    private static Workflow workflow(BatchSettings batching) {
        return Workflow.named("test")
                .local("validate", ctx -> JSON.createObjectNode().put("ok", true))
                .batched("notify", new ScriptedBatchCall(), batching)
                .build();
    }

    /** A fixed size with a linger long enough that a loaded machine never splits a test's batch. */
    private static BatchSettings fixed(int size) {
        return new BatchSettings(Duration.ofSeconds(1), size, size, BatchSettings.DEFAULT_LATENCY_TARGET);
    }

    private static StageSettings settings() {
        return new StageSettings(RetrySettings.builder().maxAttempts(3).initialBackoff(Duration.ofMillis(100))
                .jitter(0).build(), Duration.ofSeconds(30), 100, TTL);
    }

    private KeyedOneInputStreamOperatorTestHarness<String, Event, CompletedEvent> open(Workflow workflow,
            OperatorSubtaskState restore) throws Exception {
        KeyedOneInputStreamOperatorTestHarness<String, Event, CompletedEvent> h = new KeyedOneInputStreamOperatorTestHarness<>(
                new StageOperatorFactory(workflow, settings(), OutputRecordCheck.NONE), e -> e.key, Types.STRING);
        if (restore != null) {
            h.initializeState(restore);
        }
        // Call deadlines are processing time, which the stage compares with the wall clock.
        h.setProcessingTime(System.currentTimeMillis());
        h.open();
        return h;
    }

    private static Event event(String id, String key) {
        Event event = new Event();
        event.id = id;
        event.type = "payment.requested";
        event.key = key;
        event.payload = "{}";
        event.progress = "{}";
        event.value = ("{\"id\":\"" + id + "\"}").getBytes();
        event.origin = new Origin("payments", 0, Math.abs(id.hashCode()), 1000);
        return event;
    }

    private void send(Event event) throws Exception {
        harness.processElement(new StreamRecord<>(event));
        drain();
    }

    private void drain() throws Exception {
        TaskMailbox mailbox = harness.getTaskMailbox();
        Optional<Mail> mail;
        while ((mail = mailbox.tryTake(TaskMailbox.MIN_PRIORITY)).isPresent()) {
            mail.get().run();
        }
    }

    private List<String> completedIds() {
        return harness.extractOutputValues().stream().map(c -> c.eventId).sorted().collect(Collectors.toList());
    }

    private List<DeadLetter> sideOutput(OutputTag<DeadLetter> tag) {
        var records = harness.getSideOutput(tag);
        return records == null ? List.of() : records.stream().map(StreamRecord::getValue).collect(Collectors.toList());
    }

    /** Drains the mailbox until {@code check} holds (results arrive on the batch's threads). */
    private void awaitDrained(Runnable check) {
        await().pollInSameThread().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(5)).untilAsserted(() -> {
            drain();
            check.run();
        });
    }

    @Test
    void eachItemOfABatchFollowsItsOwnFailureClass() throws Exception {
        ScriptedBatchCall.item = ctx -> switch (ctx.eventId()) {
            case "retry" -> ctx.attempt() == 1
                    ? BatchCall.Result.failure(new RetryableStageException("HTTP 503 service_unavailable"))
                    : BatchCall.Result.success(JSON.createObjectNode().put("n", "retry"));
            case "reject" -> BatchCall.Result.failure(new PermanentStageException("HTTP 402 declined"));
            case "bug" -> BatchCall.Result.failure(new IllegalStateException("HTTP 422 idempotency_key_reused"));
            default -> BatchCall.Result.success(JSON.createObjectNode().put("n", ctx.eventId()));
        };
        harness = open(workflow(fixed(4)), null);
        send(event("ok", "a"));
        send(event("retry", "b"));
        send(event("reject", "c"));
        send(event("bug", "d"));

        assertThat(ScriptedBatchCall.BATCHES).as("one batch of four, sent when full")
                .containsExactly(List.of("ok:notify", "retry:notify", "reject:notify", "bug:notify"));
        awaitDrained(() -> assertThat(completedIds()).containsExactly("ok"));
        List<DeadLetter> letters = sideOutput(StageOperator.DEAD_LETTERS);
        assertThat(letters).extracting(l -> l.eventId + "/" + l.reason)
                .containsExactlyInAnyOrder("reject/" + FailureReason.PERMANENT, "bug/" + FailureReason.ERROR);
        for (DeadLetter letter : letters) {
            assertThat(Progress.parse(letter.progress).isCompleted("notify")).as("no stage record for " + letter.eventId)
                    .isFalse();
        }
        // the retryable item waits out its backoff alone, then goes in a batch of its own (linger), same key
        harness.setProcessingTime(harness.getProcessingTime() + 100);
        awaitDrained(() -> assertThat(completedIds()).containsExactly("ok", "retry"));
        assertThat(ScriptedBatchCall.BATCHES.get(1)).containsExactly("retry:notify");
        JsonNode okOutputs = JSON.readTree(harness.extractOutputValues().get(0).outputs);
        assertThat(okOutputs.path("notify").path("n").asText()).isEqualTo("ok");
        assertThat(ScriptedBatchCall.SENT).containsEntry("ok:notify", 1).containsEntry("reject:notify", 1)
                .containsEntry("retry:notify", 2);
    }

    @Test
    void aWholeBatchFailureFailsEveryItemAsRetryable() throws Exception {
        ScriptedBatchCall.batch = items -> ScriptedBatchCall.BATCHES.size() == 1
                ? CompletableFuture.failedFuture(new IOException("connection reset"))
                : CompletableFuture.completedFuture(items.stream()
                        .map(ctx -> BatchCall.Result.success(JSON.createObjectNode().put("n", ctx.eventId())))
                        .collect(Collectors.toList()));
        harness = open(workflow(fixed(2)), null);
        send(event("x", "a"));
        send(event("y", "b"));
        awaitDrained(() -> assertThat(harness.numProcessingTimeTimers()).isEqualTo(2));
        assertThat(sideOutput(StageOperator.DEAD_LETTERS)).isEmpty();
        harness.setProcessingTime(harness.getProcessingTime() + 100);
        awaitDrained(() -> assertThat(completedIds()).containsExactly("x", "y"));
        assertThat(ScriptedBatchCall.BATCHES).containsExactly(List.of("x:notify", "y:notify"), List.of("x:notify", "y:notify"));
    }

    @Test
    void aBatchInFlightAtACheckpointIsReissuedAfterRestoreWithTheSameKeys() throws Exception {
        ScriptedBatchCall.batch = items -> new CompletableFuture<>(); // sent, never answered
        harness = open(workflow(fixed(3)), null);
        send(event("p1", "a"));
        send(event("p2", "b"));
        send(event("p3", "a"));
        assertThat(ScriptedBatchCall.BATCHES).containsExactly(List.of("p1:notify", "p2:notify", "p3:notify"));
        OperatorSubtaskState snapshot = harness.snapshot(1, 1);
        harness.getOperator().close(); // a failover: the batch's response never arrives
        harness = null;

        ScriptedBatchCall.batch = null;
        harness = open(workflow(fixed(3)), snapshot);
        harness.setProcessingTime(harness.getProcessingTime() + 1);
        awaitDrained(() -> assertThat(completedIds()).containsExactly("p1", "p2", "p3"));
        // Restored timers fire one by one, so the re-issued items may go in one batch or several (linger).
        List<String> reissued = ScriptedBatchCall.BATCHES.subList(1, ScriptedBatchCall.BATCHES.size()).stream()
                .flatMap(List::stream).collect(Collectors.toList());
        assertThat(reissued).as("re-issued once each, with the same keys")
                .containsExactlyInAnyOrder("p1:notify", "p2:notify", "p3:notify");
        assertThat(harness.numProcessingTimeTimers()).isZero();
    }

    @Test
    void itemsBeyondTheBatchesInFlightWaitAndGoWhenABatchIsAnswered() throws Exception {
        List<CompletableFuture<List<BatchCall.Result>>> answers = new CopyOnWriteArrayList<>();
        ScriptedBatchCall.batch = items -> {
            CompletableFuture<List<BatchCall.Result>> answer = new CompletableFuture<>();
            answers.add(answer);
            return answer.thenApply(ignored -> items.stream()
                    .map(ctx -> BatchCall.Result.success(JSON.createObjectNode().put("n", ctx.eventId())))
                    .collect(Collectors.toList()));
        };
        Workflow workflow = workflow(new BatchSettings(Duration.ofSeconds(1), 2, 2, Duration.ofSeconds(5), 1));
        BatchingStage stage = (BatchingStage) workflow.stage("notify").remote();
        harness = open(workflow, null);
        for (String id : List.of("a", "b", "c", "d", "e")) {
            send(event(id, id));
        }
        assertThat(ScriptedBatchCall.BATCHES).as("one batch in flight; the rest waits").containsExactly(List.of("a:notify", "b:notify"));
        // The stage takes in twice size x window (one batch out, the next waiting): e waits in the engine, not
        // called yet, so its call deadline does not run while it waits.
        assertThat(stage.maxCallsNow()).isEqualTo(4);
        assertThat(stage.pendingItems()).as("c and d").isEqualTo(2);
        answers.get(0).complete(List.of());
        awaitDrained(() -> {
            assertThat(ScriptedBatchCall.BATCHES).hasSize(2);
            assertThat(stage.pendingItems()).as("e, called once a and b completed").isEqualTo(1);
        });
        assertThat(ScriptedBatchCall.BATCHES.get(1)).containsExactly("c:notify", "d:notify");
        answers.get(1).complete(List.of());
        awaitDrained(() -> assertThat(ScriptedBatchCall.BATCHES).hasSize(3));
        answers.get(2).complete(List.of());
        awaitDrained(() -> assertThat(completedIds()).containsExactly("a", "b", "c", "d", "e"));
        assertThat(ScriptedBatchCall.BATCHES.get(2)).as("the rest, once the linger passed with a slot free").containsExactly("e:notify");
    }

    @Test
    void noBatchGoesBeyondTheWindowHoweverLongItsItemsWait() throws Exception {
        CompletableFuture<List<BatchCall.Result>> slow = new CompletableFuture<>(); // the only batch slot stays taken
        ScriptedBatchCall.batch = items -> {
            CompletableFuture<List<BatchCall.Result>> answer = CompletableFuture.completedFuture(items.stream()
                    .map(ctx -> BatchCall.Result.success(JSON.createObjectNode().put("n", ctx.eventId())))
                    .collect(Collectors.toList()));
            return items.get(0).eventId().equals("a") ? slow.thenCompose(ignored -> answer) : answer;
        };
        harness = open(workflow(new BatchSettings(Duration.ofMillis(5), 1, 1, Duration.ofMillis(20), 1)), null);
        send(event("a", "a"));
        send(event("b", "b"));
        // b waits fifteen times the latency target: still no second batch while a is out (the window is the
        // one bound; a valve that sent overdue items beyond it grew the batches in flight without bound)
        await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(2)).pollInterval(Duration.ofMillis(10))
                .untilAsserted(() -> assertThat(ScriptedBatchCall.BATCHES).containsExactly(List.of("a:notify")));
        slow.complete(List.of());
        awaitDrained(() -> assertThat(completedIds()).containsExactly("a", "b"));
        assertThat(ScriptedBatchCall.BATCHES).containsExactly(List.of("a:notify"), List.of("b:notify"));
    }

    @Test
    void aQuietStreamIsSentAfterTheLingerNotHeldForAFullBatch() throws Exception {
        harness = open(workflow(new BatchSettings(Duration.ofMillis(20), 1, 100, Duration.ofMillis(200))), null);
        send(event("lonely", "a"));
        awaitDrained(() -> assertThat(completedIds()).containsExactly("lonely"));
        assertThat(ScriptedBatchCall.BATCHES).containsExactly(List.of("lonely:notify"));
        BatchingStage stage = (BatchingStage) workflow(BatchSettings.defaults()).stage("notify").remote();
        assertThat(stage.settings().adaptive()).isTrue();
    }
}
