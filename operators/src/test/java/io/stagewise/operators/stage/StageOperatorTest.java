package io.stagewise.operators.stage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.stagewise.operators.event.CompletedEvent;
import io.stagewise.operators.event.DeadLetter;
import io.stagewise.operators.event.Event;
import io.stagewise.operators.event.FailureReason;
import io.stagewise.operators.event.Origin;
import io.stagewise.operators.event.StagewiseHeaders;
import io.stagewise.operators.ingest.EventParser;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.runtime.tasks.mailbox.Mail;
import org.apache.flink.streaming.runtime.tasks.mailbox.TaskMailbox;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class StageOperatorTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final AtomicInteger VALIDATE_CALLS = new AtomicInteger();
    private static final Duration TTL = Duration.ofHours(1);

    private KeyedOneInputStreamOperatorTestHarness<String, Event, CompletedEvent> harness;

    @BeforeEach
    void reset() {
        ScriptedStage.reset();
        VALIDATE_CALLS.set(0);
    }

    @AfterEach
    void close() throws Exception {
        if (harness != null) {
            harness.close();
        }
    }

    private static Workflow payments() {
        return Workflow.named("test")
                .local("validate", ctx -> {
                    VALIDATE_CALLS.incrementAndGet();
                    if (ctx.payload().path("amount").asInt() <= 0) {
                        throw new PermanentStageException("amount <= 0");
                    }
                    if (ctx.payload().has("boom")) {
                        throw new IllegalStateException("bug in stage code");
                    }
                    return JSON.createObjectNode().put("ok", true);
                })
                .remote("charge", new ScriptedStage("charge"))
                .remote("notify", new ScriptedStage("notify"))
                .build();
    }

    private static StageSettings settings(int maxInFlight) {
        return new StageSettings(RetrySettings.builder().maxAttempts(3).initialBackoff(Duration.ofMillis(100))
                .jitter(0).build(), Duration.ofSeconds(5), maxInFlight, TTL);
    }

    private KeyedOneInputStreamOperatorTestHarness<String, Event, CompletedEvent> open(
            Workflow workflow, StageSettings settings, OperatorSubtaskState restore) throws Exception {
        return open(workflow, settings, restore, OutputRecordCheck.NONE);
    }

    private KeyedOneInputStreamOperatorTestHarness<String, Event, CompletedEvent> open(
            Workflow workflow, StageSettings settings, OperatorSubtaskState restore, OutputRecordCheck outputCheck)
            throws Exception {
        KeyedOneInputStreamOperatorTestHarness<String, Event, CompletedEvent> h = new KeyedOneInputStreamOperatorTestHarness<>(
                new StageOperatorFactory(workflow, settings, outputCheck), e -> e.key, Types.STRING);
        if (restore != null) {
            h.initializeState(restore);
        }
        h.open();
        return h;
    }

    private void start(Workflow workflow, StageSettings settings) throws Exception {
        harness = open(workflow, settings, null);
    }

    private static Event event(String id, String payload) {
        Event event = new Event();
        event.id = id;
        event.type = "payment.requested";
        event.key = "acct-1";
        event.payload = payload;
        event.progress = "{}";
        event.value = ("{\"id\":\"" + id + "\"}").getBytes();
        event.origin = new Origin("payments", 0, Math.abs(id.hashCode()), 1000);
        return event;
    }

    private static Event replayOf(DeadLetter letter, String payload) {
        Event event = event(letter.eventId, payload);
        event.origin = letter.origin;
        event.progress = letter.progress;
        event.replayOf = "payments.dlq/0/0";
        return event;
    }

    /** Drops the operator as a failover does: closed without finish(), calls in flight abandoned. */
    private void crash() throws Exception {
        harness.getOperator().close();
        harness = null;
    }

    private void send(Event event) throws Exception {
        harness.processElement(new StreamRecord<>(event));
        drain();
    }

    /** Runs every mail (call results) waiting in the task's mailbox. */
    private void drain() throws Exception {
        TaskMailbox mailbox = harness.getTaskMailbox();
        Optional<Mail> mail;
        while ((mail = mailbox.tryTake(TaskMailbox.MIN_PRIORITY)).isPresent()) {
            mail.get().run();
        }
    }

    private void advanceTime(long millis) throws Exception {
        harness.setProcessingTime(harness.getProcessingTime() + millis);
        drain();
    }

    private List<String> completedIds() {
        return harness.extractOutputValues().stream().map(c -> c.eventId).collect(Collectors.toList());
    }

    private List<DeadLetter> sideOutput(org.apache.flink.util.OutputTag<DeadLetter> tag) {
        var records = harness.getSideOutput(tag);
        return records == null ? List.of() : records.stream().map(StreamRecord::getValue).collect(Collectors.toList());
    }

    @Test
    void runsEveryStageInOrderWithDeterministicIdempotencyKeys() throws Exception {
        start(payments(), settings(10));
        send(event("e1", "{\"amount\":5}"));

        assertThat(completedIds()).containsExactly("e1");
        assertThat(ScriptedStage.CALLS).containsExactly(
                new ScriptedStage.CallRecord("charge", "e1:charge", 1),
                new ScriptedStage.CallRecord("notify", "e1:notify", 1));
        JsonNode outputs = JSON.readTree(harness.extractOutputValues().get(0).outputs);
        assertThat(outputs.fieldNames()).toIterable().containsExactly("validate", "charge", "notify");
        assertThat(harness.numKeyedStateEntries()).as("only the status entry stays").isEqualTo(1);
    }

    @Test
    void whenNotifyFailsAndIsRetriedChargeIsNotCalledAgain() throws Exception {
        ScriptedStage.SCRIPTS.put("notify", ctx -> ctx.attempt() < 3
                ? CompletableFuture.failedFuture(new RetryableStageException("503"))
                : CompletableFuture.completedFuture(ScriptedStage.ok("notification_id", "n1")));
        start(payments(), settings(10));
        send(event("e1", "{\"amount\":5}"));
        assertThat(completedIds()).isEmpty();

        advanceTime(99);
        assertThat(ScriptedStage.calls("notify", "e1:notify")).as("backoff not over yet").isEqualTo(1);
        advanceTime(1);
        assertThat(ScriptedStage.calls("notify", "e1:notify")).isEqualTo(2);
        advanceTime(200);

        assertThat(completedIds()).containsExactly("e1");
        assertThat(ScriptedStage.calls("charge", "e1:charge")).isEqualTo(1);
        assertThat(ScriptedStage.calls("notify", "e1:notify")).isEqualTo(3);
        assertThat(VALIDATE_CALLS.get()).isEqualTo(1);
        assertThat(harness.numProcessingTimeTimers()).isZero();
    }

    @Test
    void retryableFailuresPastTheAttemptsLeaveAsExhaustedWithTheSameKey() throws Exception {
        ScriptedStage.SCRIPTS.put("charge", ctx -> CompletableFuture.failedFuture(new java.io.IOException("connection reset")));
        start(payments(), settings(10));
        send(event("e1", "{\"amount\":5}"));
        advanceTime(100);
        advanceTime(200);

        List<DeadLetter> exhausted = sideOutput(StageOperator.DEAD_LETTERS);
        assertThat(exhausted).hasSize(1);
        DeadLetter letter = exhausted.get(0);
        assertThat(letter.reason).isEqualTo(FailureReason.EXHAUSTED);
        assertThat(letter.stage).isEqualTo("charge");
        assertThat(letter.retryCount).isEqualTo(3);
        assertThat(letter.failureClass).isEqualTo("java.io.IOException");
        assertThat(ScriptedStage.CALLS).extracting(ScriptedStage.CallRecord::key).containsOnly("e1:charge");
        Progress progress = Progress.parse(letter.progress);
        assertThat(progress.isCompleted("validate")).isTrue();
        assertThat(progress.keyGeneration("charge")).as("ambiguous: same key next time").isEqualTo(1);
        assertThat(completedIds()).isEmpty();
        assertThat(sideOutput(StageOperator.RETRIES)).as("no ladder configured").isEmpty();
        assertThat(harness.numProcessingTimeTimers()).isZero();
    }

    @Test
    void permanentFailureDeadLettersWithProgressAndAReplayUsesTheNextKeyGeneration() throws Exception {
        ScriptedStage.SCRIPTS.put("charge", ctx -> ctx.idempotencyKey().endsWith(":2")
                ? CompletableFuture.completedFuture(ScriptedStage.ok("charge_id", "ch_2"))
                : CompletableFuture.failedFuture(new PermanentStageException("HTTP 402 card_declined")));
        start(payments(), settings(10));
        send(event("e1", "{\"amount\":5}"));

        List<DeadLetter> letters = sideOutput(StageOperator.DEAD_LETTERS);
        assertThat(letters).hasSize(1);
        DeadLetter letter = letters.get(0);
        assertThat(letter.reason).isEqualTo(FailureReason.PERMANENT);
        assertThat(letter.stage).isEqualTo("charge");
        assertThat(letter.failureMessage).contains("card_declined");
        Progress progress = Progress.parse(letter.progress);
        assertThat(progress.isCompleted("validate")).isTrue();
        assertThat(progress.isCompleted("charge")).isFalse();
        assertThat(progress.keyGeneration("charge")).isEqualTo(2);

        send(event("e1", "{\"amount\":5}"));
        assertThat(ScriptedStage.calls("charge", "e1:charge")).as("a plain re-delivery of a dead letter is dropped").isEqualTo(1);

        send(replayOf(letter, "{\"amount\":5}"));
        assertThat(completedIds()).containsExactly("e1");
        assertThat(ScriptedStage.calls("charge", "e1:charge:2")).isEqualTo(1);
        assertThat(VALIDATE_CALLS.get()).as("validate completed before; not run on replay").isEqualTo(1);

        send(replayOf(letter, "{\"amount\":5}"));
        assertThat(completedIds()).as("replaying a completed event is a no-op").containsExactly("e1");
    }

    @Test
    void aDeadLetteredEventRepairedByReconciliationIsAdmittedOnce() throws Exception {
        ScriptedStage.SCRIPTS.put("charge", ctx -> ctx.idempotencyKey().endsWith(":2")
                ? CompletableFuture.completedFuture(ScriptedStage.ok("charge_id", "ch_2"))
                : CompletableFuture.failedFuture(new PermanentStageException("HTTP 402 card_declined")));
        start(payments(), settings(10));
        send(event("e1", "{\"amount\":5}"));
        DeadLetter letter = sideOutput(StageOperator.DEAD_LETTERS).get(0);

        Event repair = event("e1", "{\"amount\":5}");
        repair.origin = letter.origin;
        repair.progress = letter.progress;
        repair.repairOf = "reconcile-1:MISSING";
        send(repair);
        assertThat(completedIds()).as("a repair is admitted over DEAD_LETTERED").containsExactly("e1");

        send(repair);
        assertThat(completedIds()).as("a second repair of a completed event is dropped").containsExactly("e1");
    }

    @Test
    void stageCodeThrowingIsAnErrorDeadLetterAndOtherEventsGoOn() throws Exception {
        start(payments(), settings(10));
        send(event("bad", "{\"amount\":5,\"boom\":true}"));
        send(event("good", "{\"amount\":5}"));

        assertThat(completedIds()).containsExactly("good");
        List<DeadLetter> letters = sideOutput(StageOperator.DEAD_LETTERS);
        assertThat(letters).extracting(l -> l.reason).containsExactly(FailureReason.ERROR);
        assertThat(letters.get(0).stage).isEqualTo("validate");
        assertThat(letters.get(0).failureClass).isEqualTo(IllegalStateException.class.getName());
        assertThat(letters.get(0).failureMessage).isEqualTo("bug in stage code");
        assertThat(ScriptedStage.calls("charge", "bad:charge")).isZero();
    }

    @Test
    void anOutputTooLargeForTheTopicIsDeadLetteredWithItsProgressAndAReplayCallsNoStageAgain() throws Exception {
        OutputRecordCheck refusesHuge = done -> done.payloadText().contains("huge")
                ? Optional.of("event " + done.eventId + " is 20000 bytes, over 10240") : Optional.empty();
        harness = open(payments(), settings(10), null, refusesHuge);
        send(event("e1", "{\"amount\":5,\"note\":\"huge\"}"));
        send(event("e2", "{\"amount\":5}"));

        assertThat(completedIds()).as("the next event of the key is not held up").containsExactly("e2");
        List<DeadLetter> letters = sideOutput(StageOperator.DEAD_LETTERS);
        assertThat(letters).hasSize(1);
        DeadLetter letter = letters.get(0);
        assertThat(letter.eventId).isEqualTo("e1");
        assertThat(letter.reason).isEqualTo(FailureReason.ERROR);
        assertThat(letter.stage).isEqualTo(StagewiseHeaders.OUTPUT_STAGE);
        assertThat(letter.failureClass).isEqualTo(OutputTooLargeException.class.getName());
        assertThat(letter.failureMessage).isEqualTo("event e1 is 20000 bytes, over 10240");
        assertThat(JSON.readTree(letter.progress).toString()).contains("charge").contains("notify");
        OperatorSubtaskState snapshot = harness.snapshot(1, 1);
        crash();

        // The topic's limit was raised: the replay emits the output from the progress, calling nothing.
        harness = open(payments(), settings(10), snapshot);
        send(replayOf(letter, "{\"amount\":5,\"note\":\"huge\"}"));
        assertThat(completedIds()).containsExactly("e1");
        assertThat(ScriptedStage.calls("charge", "e1:charge")).isEqualTo(1);
        assertThat(ScriptedStage.calls("notify", "e1:notify")).isEqualTo(1);
    }

    @Test
    void aCallInFlightAtACheckpointIsIssuedAgainAfterRestoreWithTheSameKey() throws Exception {
        ScriptedStage.SCRIPTS.put("charge", ScriptedStage::pending);
        start(payments(), settings(10));
        send(event("e1", "{\"amount\":5}"));
        assertThat(ScriptedStage.CALLS).containsExactly(new ScriptedStage.CallRecord("charge", "e1:charge", 1));
        OperatorSubtaskState snapshot = harness.snapshot(1, 1);
        crash();

        ScriptedStage.SCRIPTS.put("charge", ctx -> CompletableFuture.completedFuture(ScriptedStage.ok("charge_id", "ch_1")));
        harness = open(payments(), settings(10), snapshot);
        advanceTime(1);

        assertThat(completedIds()).as("re-issued at once after the restore, not at the old deadline").containsExactly("e1");
        assertThat(ScriptedStage.CALLS).extracting(ScriptedStage.CallRecord::key)
                .containsExactly("e1:charge", "e1:charge", "e1:notify");
        assertThat(VALIDATE_CALLS.get()).isEqualTo(1);
    }

    @Test
    void aCompletedStageIsNotCalledAgainAfterRestoreFromALaterCheckpoint() throws Exception {
        ScriptedStage.SCRIPTS.put("notify", ScriptedStage::pending);
        start(payments(), settings(10));
        send(event("e1", "{\"amount\":5}"));
        OperatorSubtaskState snapshot = harness.snapshot(1, 1);
        crash();

        ScriptedStage.SCRIPTS.remove("notify");
        harness = open(payments(), settings(10), snapshot);
        advanceTime(1);

        assertThat(completedIds()).containsExactly("e1");
        assertThat(ScriptedStage.calls("charge", "e1:charge")).isEqualTo(1);
        assertThat(ScriptedStage.calls("notify", "e1:notify")).isEqualTo(2);
    }

    @Test
    void retriesWaitForAFreeSlotToo() throws Exception {
        ScriptedStage.SCRIPTS.put("charge", ctx -> ctx.eventId().equals("a")
                ? ScriptedStage.pending(ctx)
                : ctx.attempt() == 1 ? CompletableFuture.failedFuture(new RetryableStageException("503"))
                : CompletableFuture.completedFuture(ScriptedStage.ok("charge_id", "ch_b")));
        start(payments(), settings(2));
        send(event("b", "{\"amount\":5}")); // fails once, backs off
        send(event("a", "{\"amount\":5}")); // occupies a slot
        ScriptedStage.SCRIPTS.put("notify", ScriptedStage::pending);
        advanceTime(100); // b retries: charge ok, then notify pending: 2 in flight

        assertThat(ScriptedStage.outstanding).isEqualTo(2);
        assertThat(ScriptedStage.maxOutstanding).isEqualTo(2);
        ScriptedStage.PENDING.values().forEach(f -> f.complete(ScriptedStage.ok("id", "x")));
        drain();
        ScriptedStage.PENDING.values().forEach(f -> f.complete(ScriptedStage.ok("id", "x")));
        drain();
        assertThat(completedIds()).containsExactlyInAnyOrder("a", "b");
        assertThat(ScriptedStage.maxOutstanding).isEqualTo(2);
    }

    @Test
    void dedupDropsRedeliveriesForgetsAfterTheTtlAndSurvivesRestore() throws Exception {
        Workflow dedupOnly = Workflow.named("dedup-only").build();
        start(dedupOnly, settings(10));
        harness.setStateTtlProcessingTime(0);
        send(event("a", "{}"));
        send(event("a", "{}"));
        send(event("b", "{}"));
        OperatorSubtaskState snapshot = harness.snapshot(1, 1);
        crash();

        harness = open(dedupOnly, settings(10), snapshot);
        harness.setStateTtlProcessingTime(TTL.toMillis() - 1);
        send(event("a", "{}"));
        send(event("c", "{}"));
        harness.setStateTtlProcessingTime(TTL.toMillis() + 1);
        send(event("b", "{}"));

        assertThat(completedIds()).containsExactly("c", "b");
    }

    private static StageSettings withLadder(int steps) {
        return withLadder(steps, false);
    }

    private static StageSettings withLadder(int steps, boolean perKeyOrdering) {
        return new StageSettings(RetrySettings.builder().maxAttempts(1).jitter(0).build(), Duration.ofSeconds(5), 10, TTL,
                new io.stagewise.operators.retry.RetryLadder(steps, Duration.ofSeconds(5), 4), perKeyOrdering);
    }

    /** The record the pipeline reads back from retry topic {@code letter.retryStep}. */
    private static Event retryRecord(DeadLetter letter) {
        Event event = event(letter.eventId, "{\"amount\":5}");
        event.origin = letter.origin;
        event.progress = letter.progress;
        event.retryCount = letter.retryCount;
        event.retryStep = letter.retryStep;
        event.dueAt = letter.dueAt;
        return event;
    }

    @Test
    void exhaustedEventsClimbTheLadderWaitForTheirDueTimeThenDeadLetter() throws Exception {
        ScriptedStage.SCRIPTS.put("charge", ctx -> CompletableFuture.failedFuture(new RetryableStageException("503")));
        start(payments(), withLadder(2));
        harness.setProcessingTime(1_000);
        send(event("e1", "{\"amount\":5}"));

        List<DeadLetter> retries = sideOutput(StageOperator.RETRIES);
        assertThat(retries).hasSize(1);
        DeadLetter first = retries.get(0);
        assertThat(first.retryStep).isEqualTo(1);
        assertThat(first.dueAt - first.failureAt).isEqualTo(5_000);
        assertThat(first.retryCount).isEqualTo(1);
        assertThat(first.reason).isEqualTo(FailureReason.EXHAUSTED);

        send(event("e1", "{\"amount\":5}"));
        assertThat(ScriptedStage.calls("charge", "e1:charge")).as("a re-delivery of the input is dropped").isEqualTo(1);

        harness.setProcessingTime(first.failureAt - 10_000); // the operator's clock is the harness's
        send(retryRecord(first));
        send(retryRecord(first));
        assertThat(ScriptedStage.calls("charge", "e1:charge")).as("not before its due time").isEqualTo(1);
        harness.setProcessingTime(first.dueAt - 1);
        drain();
        assertThat(ScriptedStage.calls("charge", "e1:charge")).isEqualTo(1);
        harness.setProcessingTime(first.dueAt);
        drain();
        assertThat(ScriptedStage.calls("charge", "e1:charge")).as("due, and the duplicate retry record was dropped").isEqualTo(2);

        retries = sideOutput(StageOperator.RETRIES);
        assertThat(retries).hasSize(2);
        DeadLetter second = retries.get(1);
        assertThat(second.retryStep).isEqualTo(2);
        assertThat(second.dueAt - second.failureAt).isEqualTo(20_000);
        assertThat(second.retryCount).isEqualTo(2);
        assertThat(second.origin).isEqualTo(first.origin);

        harness.setProcessingTime(second.dueAt);
        send(retryRecord(second));
        List<DeadLetter> letters = sideOutput(StageOperator.DEAD_LETTERS);
        assertThat(letters).hasSize(1);
        assertThat(letters.get(0).reason).isEqualTo(FailureReason.EXHAUSTED);
        assertThat(letters.get(0).retryCount).isEqualTo(3);
        assertThat(letters.get(0).retryStep).isZero();
        assertThat(ScriptedStage.CALLS).extracting(ScriptedStage.CallRecord::key).containsOnly("e1:charge");
        assertThat(VALIDATE_CALLS.get()).isEqualTo(1);
        assertThat(harness.numProcessingTimeTimers()).isZero();
    }

    @Test
    void aRetryRecordWaitingForItsDueTimeSurvivesARestore() throws Exception {
        ScriptedStage.SCRIPTS.put("charge", ctx -> ctx.attempt() == 1
                ? CompletableFuture.failedFuture(new RetryableStageException("503"))
                : CompletableFuture.completedFuture(ScriptedStage.ok("charge_id", "ch_1")));
        start(payments(), withLadder(2));
        harness.setProcessingTime(1_000);
        send(event("e1", "{\"amount\":5}"));
        DeadLetter first = sideOutput(StageOperator.RETRIES).get(0);
        harness.setProcessingTime(first.failureAt);
        send(retryRecord(first));
        OperatorSubtaskState snapshot = harness.snapshot(1, 1);
        crash();

        harness = open(payments(), withLadder(2), snapshot);
        harness.setProcessingTime(first.failureAt);
        send(retryRecord(first)); // the source re-reads it after the restore: a duplicate
        harness.setProcessingTime(first.dueAt);
        drain();

        assertThat(completedIds()).containsExactly("e1");
        assertThat(ScriptedStage.calls("charge", "e1:charge")).isEqualTo(2);
    }

    private static Event event(String id, String key, String payload) {
        Event event = event(id, payload);
        event.key = key;
        return event;
    }

    @Test
    void perKeyOrderingHoldsLaterEventsOfAKeyWhileItsEventIsInTheLadder() throws Exception {
        ScriptedStage.SCRIPTS.put("charge", ctx -> ctx.eventId().equals("a1") && ctx.attempt() == 1
                ? CompletableFuture.failedFuture(new RetryableStageException("503"))
                : CompletableFuture.completedFuture(ScriptedStage.ok("charge_id", "ch_" + ctx.eventId())));
        start(payments(), withLadder(2, true));
        harness.setProcessingTime(1_000);
        send(event("a1", "acct-1", "{\"amount\":5}"));
        send(event("a2", "acct-1", "{\"amount\":5}"));
        send(event("b1", "acct-2", "{\"amount\":5}"));
        send(event("a3", "acct-1", "{\"amount\":5}"));
        send(event("a2", "acct-1", "{\"amount\":5}"));

        assertThat(completedIds()).as("other keys are not held").containsExactly("b1");
        assertThat(ScriptedStage.calls("charge", "a2:charge")).as("a2 waits behind a1").isZero();

        DeadLetter retry = sideOutput(StageOperator.RETRIES).get(0);
        Event record = retryRecord(retry);
        record.key = "acct-1";
        send(record);
        harness.setProcessingTime(retry.dueAt);
        drain();

        assertThat(completedIds()).containsExactly("b1", "a1", "a2", "a3");
        assertThat(ScriptedStage.calls("charge", "a2:charge")).as("the duplicate of a2 was dropped while it waited").isEqualTo(1);
        assertThat(harness.numProcessingTimeTimers()).isZero();
    }

    // ---- issue 9: no stranded events, no silent loss --------------------------------------------

    /** The default watchdog: a retry record not read back within 5 minutes of its due time is re-sent, at most 3 times. */
    private static final long GRACE = Duration.ofMinutes(5).toMillis();

    @Test
    void aLostRetryRecordIsResentToTheSameStepThenDeadLetteredAsExhausted() throws Exception {
        ScriptedStage.SCRIPTS.put("charge", ctx -> CompletableFuture.failedFuture(new RetryableStageException("503")));
        start(payments(), withLadder(2));
        harness.setProcessingTime(1_000);
        send(event("e1", "{\"amount\":5}"));
        DeadLetter first = sideOutput(StageOperator.RETRIES).get(0);
        assertThat(harness.numProcessingTimeTimers()).as("the watchdog waits for the retry record").isEqualTo(1);

        harness.setProcessingTime(first.dueAt + GRACE - 1);
        drain();
        assertThat(sideOutput(StageOperator.RETRIES)).hasSize(1);
        harness.setProcessingTime(first.dueAt + GRACE);
        drain();
        List<DeadLetter> retries = sideOutput(StageOperator.RETRIES);
        assertThat(retries).as("re-sent once").hasSize(2);
        DeadLetter resent = retries.get(1);
        assertThat(resent.retryStep).isEqualTo(1);
        assertThat(resent.eventId).isEqualTo("e1");
        assertThat(resent.progress).isEqualTo(first.progress);
        assertThat(resent.origin).isEqualTo(first.origin);

        advanceTime(GRACE);
        advanceTime(GRACE);
        assertThat(sideOutput(StageOperator.RETRIES)).as("three re-sends at most").hasSize(4);
        assertThat(sideOutput(StageOperator.DEAD_LETTERS)).isEmpty();
        advanceTime(GRACE);

        List<DeadLetter> letters = sideOutput(StageOperator.DEAD_LETTERS);
        assertThat(letters).hasSize(1);
        assertThat(letters.get(0).reason).isEqualTo(FailureReason.EXHAUSTED);
        assertThat(letters.get(0).stage).isEqualTo("charge");
        assertThat(letters.get(0).retryStep).isZero();
        assertThat(letters.get(0).failureMessage).contains("retry record", "lost", "e1");
        assertThat(letters.get(0).origin).isEqualTo(first.origin);

        send(retryRecord(first)); // the lost record turns up after all: the event has left
        send(event("e1", "{\"amount\":5}"));
        assertThat(ScriptedStage.calls("charge", "e1:charge")).isEqualTo(1);
        assertThat(completedIds()).isEmpty();
        assertThat(harness.numProcessingTimeTimers()).isZero();
    }

    @Test
    void aResentRetryRecordAndTheLateOriginalAreAdmittedOnce() throws Exception {
        ScriptedStage.SCRIPTS.put("charge", ctx -> ctx.attempt() == 1
                ? CompletableFuture.failedFuture(new RetryableStageException("503"))
                : CompletableFuture.completedFuture(ScriptedStage.ok("charge_id", "ch_1")));
        start(payments(), withLadder(2));
        harness.setProcessingTime(1_000);
        send(event("e1", "{\"amount\":5}"));
        DeadLetter first = sideOutput(StageOperator.RETRIES).get(0);
        harness.setProcessingTime(first.dueAt + GRACE);
        drain();
        DeadLetter resent = sideOutput(StageOperator.RETRIES).get(1);

        send(retryRecord(resent));
        send(retryRecord(first));
        assertThat(completedIds()).containsExactly("e1");
        assertThat(ScriptedStage.calls("charge", "e1:charge")).isEqualTo(2);
        assertThat(harness.numProcessingTimeTimers()).isZero();
    }

    @Test
    void loweringTheRetryTopicsDeadLettersEventsWaitingAtARemovedStep() throws Exception {
        ScriptedStage.SCRIPTS.put("charge", ctx -> CompletableFuture.failedFuture(new RetryableStageException("503")));
        start(payments(), withLadder(2));
        harness.setProcessingTime(1_000);
        send(event("e1", "{\"amount\":5}"));
        DeadLetter first = sideOutput(StageOperator.RETRIES).get(0);
        harness.setProcessingTime(first.dueAt);
        send(retryRecord(first));
        DeadLetter second = sideOutput(StageOperator.RETRIES).get(1);
        assertThat(second.retryStep).isEqualTo(2);
        OperatorSubtaskState snapshot = harness.snapshot(1, 1);
        crash();

        harness = open(payments(), withLadder(1), snapshot); // --retry-topics 2 -> 1: T.retry.2 is no longer read
        harness.setProcessingTime(second.failureAt + 1);
        drain();

        List<DeadLetter> letters = sideOutput(StageOperator.DEAD_LETTERS);
        assertThat(letters).as("dead-lettered at once, not stranded").hasSize(1);
        assertThat(letters.get(0).reason).isEqualTo(FailureReason.EXHAUSTED);
        assertThat(letters.get(0).failureMessage).contains("retry step 2", "1 retry topic");
        assertThat(harness.numProcessingTimeTimers()).isZero();
    }

    @Test
    void aStateTtlShorterThanTheLadderIsRefused() {
        RetrySettings retry = RetrySettings.builder().build();
        assertThatThrownBy(() -> new StageSettings(retry, Duration.ofSeconds(10), 10, Duration.ofMinutes(1),
                io.stagewise.operators.retry.RetryLadder.DEFAULT, false))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("dedup-ttl")
                .hasMessageContaining("retry ladder");
        assertThatThrownBy(() -> new StageSettings(retry, Duration.ofSeconds(10), 10, Duration.ofSeconds(5)))
                .hasMessageContaining("dedup-ttl");
    }

    @Test
    void theStatusOfAnEventClimbingTheLadderDoesNotExpireUnderIt() throws Exception {
        ScriptedStage.SCRIPTS.put("charge", ctx -> CompletableFuture.failedFuture(new RetryableStageException("503")));
        start(payments(), withLadder(2));
        harness.setStateTtlProcessingTime(0);
        harness.setProcessingTime(1_000);
        send(event("e1", "{\"amount\":5}"));
        DeadLetter first = sideOutput(StageOperator.RETRIES).get(0);

        // The retry record comes back late (say, the job was behind), waits for its due time, fails again.
        harness.setStateTtlProcessingTime(TTL.toMillis() - 1);
        harness.setProcessingTime(first.failureAt);
        send(retryRecord(first));
        harness.setProcessingTime(first.dueAt);
        drain();
        assertThat(sideOutput(StageOperator.RETRIES)).hasSize(2);

        harness.setStateTtlProcessingTime(TTL.toMillis() + 1);
        send(event("e1", "{\"amount\":5}"));
        assertThat(ScriptedStage.calls("charge", "e1:charge")).as("the duplicate is dropped, not run beside it").isEqualTo(2);
    }

    @Test
    void aTimerWhoseStateExpiredDeadLettersTheEventAndReleasesItsKey() throws Exception {
        ScriptedStage.SCRIPTS.put("charge", ctx -> ctx.eventId().equals("a1") && ctx.attempt() == 1
                ? CompletableFuture.failedFuture(new RetryableStageException("503"))
                : CompletableFuture.completedFuture(ScriptedStage.ok("charge_id", "ch_" + ctx.eventId())));
        start(payments(), orderedWithAttempts(3));
        harness.setStateTtlProcessingTime(0);
        harness.setProcessingTime(1_000);
        send(event("a1", "acct-1", "{\"amount\":5}")); // backs off 100 ms
        send(event("a2", "acct-1", "{\"amount\":5}")); // parked behind a1

        harness.setStateTtlProcessingTime(TTL.toMillis() + 1); // the job was down longer than the TTL
        advanceTime(100);

        List<DeadLetter> letters = sideOutput(StageOperator.DEAD_LETTERS);
        assertThat(letters).as("never dropped silently").hasSize(1);
        assertThat(letters.get(0).eventId).isEqualTo("a1");
        assertThat(letters.get(0).reason).isEqualTo(FailureReason.ERROR);
        assertThat(letters.get(0).failureMessage).contains("expired", "dedup-ttl");
        assertThat(completedIds()).as("the key is not blocked").containsExactly("a2");
        assertThat(harness.numProcessingTimeTimers()).isZero();
    }

    @Test
    void aParkedEventWhoseStatusExpiredIsNotReleasedTwice() throws Exception {
        ScriptedStage.SCRIPTS.put("charge", ctx -> ctx.eventId().equals("a1") && ctx.attempt() < 3
                ? CompletableFuture.failedFuture(new RetryableStageException("503"))
                : CompletableFuture.completedFuture(ScriptedStage.ok("charge_id", "ch_" + ctx.eventId())));
        start(payments(), orderedWithAttempts(3));
        harness.setStateTtlProcessingTime(0);
        harness.setProcessingTime(1_000);
        send(event("a1", "acct-1", "{\"amount\":5}")); // fails, backs off 100 ms
        send(event("a2", "acct-1", "{\"amount\":5}")); // parked; its status is written now
        harness.setStateTtlProcessingTime(TTL.toMillis() / 2);
        advanceTime(100); // a1 fails again, backs off 200 ms (its state written now)
        harness.setStateTtlProcessingTime(TTL.toMillis() + 1);
        send(event("a2", "acct-1", "{\"amount\":5}")); // a2's status expired: admitted and parked again
        advanceTime(200); // a1 completes; a2 runs

        assertThat(completedIds()).containsExactly("a1", "a2");
        assertThat(ScriptedStage.calls("charge", "a2:charge")).isEqualTo(1);
        assertThat(harness.numProcessingTimeTimers()).isZero();
    }

    @Test
    void restoringAPerKeyJobUnorderedReleasesItsParkedEvents() throws Exception {
        ScriptedStage.SCRIPTS.put("charge", ScriptedStage::pending);
        start(payments(), withLadder(2, true));
        harness.setProcessingTime(1_000);
        send(event("a1", "acct-1", "{\"amount\":5}"));
        send(event("a2", "acct-1", "{\"amount\":5}"));
        send(event("a3", "acct-1", "{\"amount\":5}"));
        OperatorSubtaskState snapshot = harness.snapshot(1, 1);
        crash();

        ScriptedStage.SCRIPTS.remove("charge");
        harness = open(payments(), withLadder(2, false), snapshot);
        advanceTime(1);

        assertThat(completedIds()).containsExactlyInAnyOrder("a1", "a2", "a3");
        assertThat(VALIDATE_CALLS.get()).isEqualTo(3);
        assertThat(harness.numProcessingTimeTimers()).isZero();
        assertThat(harness.numKeyedStateEntries()).as("only the key's status map stays").isEqualTo(1);
    }

    @Test
    void aStageOutputTooLargeForTheProgressHeaderDeadLettersThatEventOnly() throws Exception {
        String big = "x".repeat(200 * 1024);
        ScriptedStage.SCRIPTS.put("charge", ctx -> CompletableFuture.completedFuture(ctx.eventId().equals("big")
                ? ScriptedStage.ok("receipt", big) : ScriptedStage.ok("charge_id", "ch_" + ctx.eventId())));
        start(payments(), settings(10));
        send(event("big", "{\"amount\":5}"));
        send(event("small", "{\"amount\":5}"));

        assertThat(completedIds()).containsExactly("small");
        List<DeadLetter> letters = sideOutput(StageOperator.DEAD_LETTERS);
        assertThat(letters).hasSize(1);
        DeadLetter letter = letters.get(0);
        assertThat(letter.reason).isEqualTo(FailureReason.ERROR);
        assertThat(letter.stage).isEqualTo("charge");
        assertThat(letter.failureMessage).contains("stagewise.progress");
        assertThat(letter.progress.length()).isLessThan(4096);
        Progress progress = Progress.parse(letter.progress);
        assertThat(progress.isCompleted("charge")).as("its effect exists").isTrue();
        assertThat(progress.output("charge")).as("but the output is not carried").isNull();

        ScriptedStage.SCRIPTS.put("charge", ctx -> CompletableFuture.completedFuture(ScriptedStage.ok("charge_id", "ch_big")));
        send(replayOf(letter, "{\"amount\":5}"));
        assertThat(completedIds()).containsExactly("small", "big");
        assertThat(ScriptedStage.calls("charge", "big:charge")).as("a replay fetches the output again, same key").isEqualTo(2);
        assertThat(VALIDATE_CALLS.get()).isEqualTo(2);
    }

    @Test
    void oneEventIdUnderTwoBusinessKeysKeepsTwoCalls() throws Exception {
        List<CompletableFuture<JsonNode>> calls = new java.util.concurrent.CopyOnWriteArrayList<>();
        ScriptedStage.SCRIPTS.put("charge", ctx -> {
            CompletableFuture<JsonNode> call = new CompletableFuture<>();
            calls.add(call);
            return call;
        });
        start(payments(), settings(10));
        send(event("x", "acct-1", "{\"amount\":5}"));
        send(event("x", "acct-2", "{\"amount\":5}"));
        assertThat(calls).hasSize(2);

        calls.forEach(f -> f.complete(ScriptedStage.ok("charge_id", "ch")));
        drain();
        assertThat(completedIds()).as("both results applied, neither taken for a superseded call").containsExactly("x", "x");
        assertThat(harness.numProcessingTimeTimers()).isZero();
    }

    @Test
    void manyParkedEventsOfAHotKeyRunInArrivalOrder() throws Exception {
        ScriptedStage.SCRIPTS.put("charge", ctx -> ctx.eventId().equals("p0000")
                ? ScriptedStage.pending(ctx) : CompletableFuture.completedFuture(ScriptedStage.ok("charge_id", "ch")));
        start(payments(), withLadder(1, true));
        List<String> ids = new java.util.ArrayList<>();
        for (int i = 0; i < 2000; i++) {
            String id = String.format("p%04d", i);
            ids.add(id);
            harness.processElement(new StreamRecord<>(event(id, "acct-1", "{\"amount\":5}")));
        }
        ScriptedStage.PENDING.values().forEach(f -> f.complete(ScriptedStage.ok("charge_id", "ch")));
        drain();
        assertThat(completedIds()).containsExactlyElementsOf(ids);
        assertThat(harness.numKeyedStateEntries()).as("only the key's status map stays").isEqualTo(1);
        assertThat(harness.numProcessingTimeTimers()).isZero();
    }

    /**
     * A parsed event holds its payload as a slice of its value: parked (the POJO state), snapshotted
     * and restored, it still reaches the output with its payload.
     */
    @Test
    void aParkedEventKeepsItsPayloadAcrossASnapshot() throws Exception {
        ScriptedStage.SCRIPTS.put("charge", ctx -> ctx.eventId().equals("a1") && ctx.attempt() == 1
                ? CompletableFuture.failedFuture(new RetryableStageException("503"))
                : CompletableFuture.completedFuture(ScriptedStage.ok("charge_id", "ch_" + ctx.eventId())));
        start(payments(), orderedWithAttempts(3));
        harness.setProcessingTime(1_000);
        send(event("a1", "acct-1", "{\"amount\":5}")); // backs off 100 ms
        String payload = "{\"amount\": 7, \"note\": \"€ \\\"x\\\"\"}";
        Event parsed = new EventParser(EventParser.DEFAULT_MAX_EVENT_BYTES).parse(null,
                ("{\"id\":\"a2\",\"type\":\"payment.requested\",\"key\":\"acct-1\",\"payload\":" + payload + "}")
                        .getBytes(StandardCharsets.UTF_8), new Origin("payments", 0, 9, 1), Map.of());
        assertThat(parsed.hasPayloadSlice()).isTrue();
        send(parsed); // parked behind a1

        OperatorSubtaskState snapshot = harness.snapshot(1, 1_000);
        crash();
        harness = open(payments(), orderedWithAttempts(3), snapshot);
        harness.setProcessingTime(1_000);
        advanceTime(100);
        drain();

        assertThat(completedIds()).containsExactly("a1", "a2");
        CompletedEvent a2 = harness.extractOutputValues().get(1);
        assertThat(a2.payloadText()).isEqualTo(payload);
    }

    private static StageSettings orderedWithAttempts(int attempts) {
        return new StageSettings(RetrySettings.builder().maxAttempts(attempts).initialBackoff(Duration.ofMillis(100))
                .jitter(0).build(), Duration.ofSeconds(5), 10, TTL, io.stagewise.operators.retry.RetryLadder.NONE, true);
    }

    @Test
    void retrySettingsAreValidated() {
        assertThatThrownBy(() -> RetrySettings.builder().maxAttempts(0).build()).hasMessageContaining("maxAttempts");
        assertThatThrownBy(() -> RetrySettings.builder().multiplier(0.5).build()).hasMessageContaining("multiplier");
        assertThatThrownBy(() -> RetrySettings.builder().jitter(1.5).build()).hasMessageContaining("jitter");
        assertThatThrownBy(() -> RetrySettings.builder().initialBackoff(Duration.ofSeconds(20)).build())
                .hasMessageContaining("maxBackoff");
        assertThatThrownBy(() -> new StageSettings(RetrySettings.DEFAULTS, Duration.ZERO, 1, TTL)).hasMessageContaining("callTimeout");
        assertThatThrownBy(() -> new StageSettings(RetrySettings.DEFAULTS, Duration.ofSeconds(1), 0, TTL)).hasMessageContaining("maxInFlight");
        RetrySettings noJitter = RetrySettings.builder().jitter(0).build();
        java.util.Random random = new java.util.Random(1);
        assertThat(noJitter.backoffMillis(1, random)).isEqualTo(100);
        assertThat(noJitter.backoffMillis(2, random)).isEqualTo(200);
        assertThat(noJitter.backoffMillis(3, random)).isEqualTo(400);
        assertThat(noJitter.backoffMillis(20, random)).isEqualTo(10_000);
        io.stagewise.operators.retry.RetryLadder ladder = io.stagewise.operators.retry.RetryLadder.DEFAULT;
        assertThat(ladder.delay(1)).isEqualTo(Duration.ofSeconds(5));
        assertThat(ladder.delay(2)).isEqualTo(Duration.ofSeconds(20));
        assertThat(ladder.delay(3)).isEqualTo(Duration.ofSeconds(80));
        assertThat(ladder.topics("payments")).containsExactly("payments.retry.1", "payments.retry.2", "payments.retry.3");
        assertThat(io.stagewise.operators.retry.RetryLadder.stepOf("payments.retry.2")).isEqualTo(2);
        assertThat(io.stagewise.operators.retry.RetryLadder.stepOf("payments")).isZero();
        assertThatThrownBy(() -> new io.stagewise.operators.retry.RetryLadder(3, Duration.ofSeconds(5), 1.5))
                .hasMessageContaining(">= 2");
    }

    @Test
    void workflowNamesAreValidated() {
        assertThatThrownBy(() -> Workflow.named("w").local("Bad Name", ctx -> null).build()).hasMessageContaining("must match");
        assertThatThrownBy(() -> Workflow.named("w").local("a", ctx -> null).local("a", ctx -> null).build())
                .hasMessageContaining("duplicate");
        assertThatThrownBy(() -> Workflow.named("w").local("ingest", ctx -> null).build()).hasMessageContaining("reserved");
    }

    @Test
    void failuresAreSorted() {
        assertThat(FailureClass.of(new PermanentStageException("x"))).isEqualTo(FailureClass.PERMANENT);
        assertThat(FailureClass.of(new RetryableStageException("x"))).isEqualTo(FailureClass.RETRYABLE);
        assertThat(FailureClass.of(new java.util.concurrent.CompletionException(new java.net.ConnectException()))).isEqualTo(FailureClass.RETRYABLE);
        assertThat(FailureClass.of(new java.util.concurrent.TimeoutException())).isEqualTo(FailureClass.RETRYABLE);
        assertThat(FailureClass.of(new NullPointerException())).isEqualTo(FailureClass.ERROR);
        assertThat(StageContext.idempotencyKey("e", "charge", 1)).isEqualTo("e:charge");
        assertThat(StageContext.idempotencyKey("e", "charge", 3)).isEqualTo("e:charge:3");
    }
}
