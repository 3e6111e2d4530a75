package io.stagewise.operators.stage;

import com.fasterxml.jackson.databind.JsonNode;
import io.stagewise.operators.dedup.DedupRule;
import io.stagewise.operators.dedup.EventStatus;
import io.stagewise.operators.event.CompletedEvent;
import io.stagewise.operators.event.DeadLetter;
import io.stagewise.operators.event.DeadLetterTypeInfo;
import io.stagewise.operators.event.Event;
import io.stagewise.operators.event.FailureReason;
import io.stagewise.operators.event.StagewiseHeaders;
import io.stagewise.operators.retry.RetryRecordLostException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.flink.api.common.operators.MailboxExecutor;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.typeutils.base.StringSerializer;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.InternalTimer;
import org.apache.flink.streaming.api.operators.InternalTimerService;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.api.operators.StreamOperatorParameters;
import org.apache.flink.streaming.api.operators.Triggerable;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.util.OutputTag;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Dedup and stage-aware execution of a {@link Workflow}, keyed by event id.
 *
 * <p>Guarantee: within the job's consistent history (retries, restores, DLQ replays) a stage that
 * completed for an event is never called again, and every event ends in exactly one of: the main
 * output ({@link CompletedEvent}), {@link #DEAD_LETTERS} (reason {@code permanent} or {@code error}),
 * {@link #RETRIES} (retryable failures that used up the in-operator attempts, bound for the next
 * retry topic; after the last one they are dead letters with reason {@code exhausted}). A call made after
 * the last checkpoint runs again after a restore, always with the same idempotency key, so the
 * downstream service makes it harmless. Protects against re-running completed side effects, poison
 * events crash-looping the job (stage code exceptions are dead-lettered), and blocked task threads.
 *
 * <p>Why one operator does both dedup and stages: the dedup rule (docs/state-and-dedup.md) depends on
 * the outcome of the workflow ({@code DEAD_LETTERED} admits a replay), so the status and the stage
 * records must live in the same keyed state. Keyed by business key, with one entry per event id in
 * {@code MapState}: that serves dedup and stage records by event id and also per-key ordering
 * (optional: a key then runs one event at a time, later ones wait in keyed state), at the price of
 * skew on hot keys. Dedup assumes an event id keeps its business key (a duplicate with another key
 * is a different entry).
 *
 * <p>How calls run: the task thread never waits on a call. Remote stages return futures whose
 * results come back through the mailbox; each remote stage has its own in-flight limit per subtask
 * ({@link InFlightLimit}: fixed at {@code maxInFlight}, or adaptive between {@code minInFlight} and
 * {@code maxInFlight}, following the stage's round-trip times, timeouts and 429/503 answers). An
 * event that finds its stage full waits in that stage's queue, in arrival order, and new input
 * waits while any event does (which backpressures the source). The limits live in memory only,
 * never in state: savepoints are unchanged. Each pending event has exactly one processing-time
 * timer in keyed state: the backoff due time, the call deadline, or, while it waits in the retry
 * ladder, the watchdog (due time + grace: the record is re-sent, then the event
 * dead-lettered as {@code exhausted}, so no lost retry record strands it). Timers are part of
 * checkpoints, so after a restore the deadline timer of a call that was in flight fires and the
 * call is issued again with the same key; a retry waiting out its backoff resumes on time. A timer
 * that finds its event's state expired dead-letters the event; nothing is dropped in silence.
 *
 * <p>What lives where: this class is the keyed-state core (admission and dedup, the event state
 * machine of {@link WorkflowRun.Phase}, failure routing); {@link KeyOrdering} holds per-key
 * ordering, {@link CallSlots} the calls in flight and the events waiting for a slot or a backoff,
 * {@link StageMetrics} the metrics, {@link StageStateDescriptors} every state definition (also read
 * by savepoint tooling).
 */
public final class StageOperator extends AbstractStreamOperator<CompletedEvent>
        implements OneInputStreamOperator<Event, CompletedEvent>, Triggerable<String, String> {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(StageOperator.class);

    public static final String UID = "stagewise-stages";

    /** The stage a dead letter names when the event's state, and so its stage, is gone. */
    public static final String UNKNOWN_STAGE = "unknown";

    /** Permanent rejections and errors in stage code, with progress, ready for the DLQ. */
    public static final OutputTag<DeadLetter> DEAD_LETTERS =
            new OutputTag<>("stage-dead-letters", DeadLetterTypeInfo.INSTANCE);

    /**
     * Retryable failures past the in-operator attempts, bound for the next step of the retry ladder
     * ({@link DeadLetter#retryStep}, {@link DeadLetter#dueAt}); after the last step they are
     * {@link #DEAD_LETTERS} with reason {@code exhausted}.
     */
    public static final OutputTag<DeadLetter> RETRIES =
            new OutputTag<>("stage-retries", DeadLetterTypeInfo.INSTANCE);

    private final Workflow workflow;
    private final StageSettings settings;
    /** Refuses completed events whose output record the output topic would not take. */
    private final OutputRecordCheck outputCheck;
    private final transient MailboxExecutor mailbox;

    /** Per business key: event id -> status (dedup). */
    private transient MapState<String, EventStatus> status;
    /** Per business key: event id -> the state of its workflow while under way. */
    private transient MapState<String, WorkflowRun> workflows;
    /** Per business key: events waiting in the retry ladder, with their records and watchdogs. */
    private transient LadderWaits ladder;
    private transient KeyOrdering ordering;
    /** One timer per pending event: key = business key, namespace = event id. */
    private transient InternalTimerService<String> timers;
    /** Releases a key's parked events after a restore without per-key ordering. */
    private transient InternalTimerService<VoidNamespace> releaseTimers;
    private transient CallSlots slots;
    private transient Random random;
    private transient StageMetrics metrics;

    StageOperator(StreamOperatorParameters<CompletedEvent> parameters, Workflow workflow, StageSettings settings,
                  OutputRecordCheck outputCheck, MailboxExecutor mailbox) {
        super(parameters);
        this.workflow = workflow;
        this.settings = settings;
        this.outputCheck = outputCheck;
        this.mailbox = mailbox;
    }

    @Override
    public void open() throws Exception {
        super.open();
        status = getRuntimeContext().getMapState(StageStateDescriptors.status(settings.stateTtl()));
        workflows = getRuntimeContext().getMapState(StageStateDescriptors.workflowRun(settings.stateTtl()));
        migrateLegacyWorkflows();
        ordering = new KeyOrdering(settings.perKeyOrdering(), getRuntimeContext());
        timers = getInternalTimerService(StageStateDescriptors.TIMERS, StringSerializer.INSTANCE, this);
        ladder = new LadderWaits(getRuntimeContext(), settings.stateTtl(), timers);
        releaseTimers = getInternalTimerService(StageStateDescriptors.RELEASE_TIMERS, VoidNamespaceSerializer.INSTANCE,
                new ReleaseParked());
        slots = new CallSlots(workflow.stages().stream().filter(stage -> !stage.isLocal()).map(Workflow.Stage::name).toList(),
                stage -> InFlightLimit.of(settings).cappedBy(workflow.stage(stage).remote()::maxCallsNow));
        random = new Random();
        metrics = new StageMetrics(getMetricGroup().addGroup("stagewise"), workflow, settings.ladder(), slots,
                () -> slots.oldestWaitingRetryAgeMillis(System.currentTimeMillis()));
        for (Workflow.Stage stage : workflow.stages()) {
            if (!stage.isLocal()) {
                stage.remote().open(metrics.stage(stage.name()).group);
            }
        }
        reissueLostCalls();
        if (!settings.perKeyOrdering()) {
            releaseParkedEvents();
        }
    }

    /**
     * Savepoint compatibility: versions before typed progress kept in-flight workflows in state
     * {@link StageStateDescriptors#WORKFLOW} ({@link WorkflowState}, progress as JSON text). Restored
     * from such a savepoint, every entry moves into {@link StageStateDescriptors#WORKFLOW_RUN} here,
     * before anything reads it; its timer stays as it was (the namespace is the event id). Entries
     * are few (events in flight, not every id), so this is one pass at start; afterwards the old
     * state is empty and no per-event read looks at it.
     */
    private void migrateLegacyWorkflows() throws Exception {
        MapState<String, WorkflowState> legacy =
                getRuntimeContext().getMapState(StageStateDescriptors.workflow(settings.stateTtl()));
        List<String> keys;
        try (Stream<String> stream = this.<String>getKeyedStateBackend().getKeys(StageStateDescriptors.WORKFLOW, VoidNamespace.INSTANCE)) {
            keys = stream.collect(Collectors.toList());
        }
        int moved = 0;
        for (String key : keys) {
            setCurrentKey(key);
            // Iterating one state while writing another is safe on both backends; the old one is cleared after.
            for (Map.Entry<String, WorkflowState> e : legacy.entries()) {
                workflows.put(e.getKey(), WorkflowRun.from(e.getValue()));
                moved++;
            }
            legacy.clear();
        }
        if (moved > 0) {
            LOG.info("Moved {} in-flight workflow(s) of {} key(s) from state '{}' (progress as JSON, written by an "
                    + "earlier version) to state '{}'", moved, keys.size(), StageStateDescriptors.WORKFLOW,
                    StageStateDescriptors.WORKFLOW_RUN);
        }
    }

    /**
     * After a restore, calls that were in flight (or queued for a slot) are gone with the old task;
     * their timers would re-issue them only at the old deadline. Move those timers to now, so the
     * calls go out again at once, with the same idempotency key. Backoffs and retry records keep
     * their due times. Events waiting at a ladder step this job no longer has (the retry topics
     * were lowered) get their watchdog now: their records will not be read, so they leave the ladder.
     */
    private void reissueLostCalls() throws Exception {
        List<CallSlots.Ref> lost = new ArrayList<>();
        List<CallSlots.Ref> pastLadder = new ArrayList<>();
        int steps = settings.ladder().steps();
        timers.forEachProcessingTimeTimer((eventId, timestamp) -> {
            WorkflowRun ws = workflows.get(eventId);
            if (ws != null && ws.timer == timestamp && ws.phase != WorkflowRun.Phase.BACKOFF) {
                lost.add(new CallSlots.Ref((String) getCurrentKey(), eventId));
            }
            LadderWait wait = ws == null ? ladder.get(eventId) : null;
            if (wait != null && wait.timer == timestamp && wait.record.retryStep > steps) {
                pastLadder.add(new CallSlots.Ref((String) getCurrentKey(), eventId));
            }
        });
        long now = now();
        for (CallSlots.Ref ref : lost) {
            setCurrentKey(ref.key());
            WorkflowRun ws = workflows.get(ref.eventId());
            setTimer(ws, now);
            workflows.put(ref.eventId(), ws);
        }
        for (CallSlots.Ref ref : pastLadder) {
            setCurrentKey(ref.key());
            ladder.rearm(ref.eventId(), ladder.get(ref.eventId()), now);
        }
        if (!lost.isEmpty()) {
            LOG.info("Re-issuing {} call(s) that were in flight at the restored checkpoint", lost.size());
        }
        if (!pastLadder.isEmpty()) {
            LOG.warn("{} event(s) wait at a retry step this job no longer has (--retry-topics is {}): they leave the "
                    + "ladder as exhausted dead letters", pastLadder.size(), steps);
        }
    }

    /**
     * Restored without per-key ordering ({@code --ordering unordered}) from a job that had it: no
     * running event will release the keys' waiting events any more, so each key that holds ordering
     * state gets a timer that starts them all now.
     */
    private void releaseParkedEvents() throws Exception {
        Set<String> keys = KeyOrdering.keysHoldingState(getKeyedStateBackend());
        long now = now();
        for (String key : keys) {
            setCurrentKey(key);
            releaseTimers.registerProcessingTimeTimer(VoidNamespace.INSTANCE, now);
        }
        if (!keys.isEmpty()) {
            LOG.info("Restored without per-key ordering (stagewise.ordering = unordered): the waiting events of {} key(s) "
                    + "start now", keys.size());
        }
    }

    /** Fires once per key after a restore without per-key ordering: its parked events start. */
    private final class ReleaseParked implements Triggerable<String, VoidNamespace> {
        @Override
        public void onProcessingTime(InternalTimer<String, VoidNamespace> timer) throws Exception {
            ordering.releaseAll(StageOperator.this::stillPending, StageOperator.this::begin);
        }

        @Override
        public void onEventTime(InternalTimer<String, VoidNamespace> timer) {
            // No event-time timers are registered.
        }
    }

    /**
     * A parked event may start unless a copy of it already reached an end: its status expired
     * while it waited, so a duplicate was admitted and parked too. Dropped as a duplicate then.
     */
    private boolean stillPending(Event event) throws Exception {
        EventStatus recorded = status.get(event.id);
        if (recorded == null || recorded == EventStatus.IN_PROGRESS || DedupRule.admit(recorded, event.isReplay())) {
            return true;
        }
        metrics.duplicatesDropped.inc();
        return false;
    }

    @Override
    public void processElement(StreamRecord<Event> element) throws Exception {
        // Backpressure: admit new work only while no event waits for a call slot; results keep flowing meanwhile.
        while (slots.blocked()) {
            mailbox.yield();
        }
        Event event = element.getValue();
        setCurrentKey(event.key);
        EventStatus recorded = status.get(event.id);
        if (event.retryStep > 0) {
            admitRetry(event, recorded);
            return;
        }
        if (!DedupRule.admit(recorded, event.isReplay())) {
            metrics.duplicatesDropped.inc();
            return;
        }
        if (recorded != null) {
            metrics.replaysAdmitted.inc();
        }
        if (!ordering.runOrPark(event)) {
            status.put(event.id, EventStatus.IN_PROGRESS); // a duplicate of a waiting event is dropped
            metrics.parked.inc();
            return;
        }
        begin(event);
    }

    private void begin(Event event) throws Exception {
        Progress progress;
        try {
            progress = Progress.parse(event.progress);
        } catch (IllegalArgumentException e) {
            // The parser validated the header; this is defensive, never a crash.
            progress = Progress.empty();
        }
        advance(new WorkflowRun(event, progress), progress);
    }

    /**
     * A record read back from retry topic n continues its event only if the event is waiting at
     * step n and not already running; anything else is a re-delivery (say, after a restore) and is
     * dropped. It then waits for its due time in a timer: durable, and never blocking a partition.
     */
    private void admitRetry(Event event, EventStatus recorded) throws Exception {
        if (workflows.contains(event.id) || !ladder.admit(event, recorded)) {
            metrics.retryDuplicatesDropped.inc();
            return;
        }
        status.put(event.id, EventStatus.IN_PROGRESS); // refreshes its TTL: the event is in flight again
        Progress progress;
        try {
            progress = Progress.parse(event.progress);
        } catch (IllegalArgumentException e) {
            progress = Progress.empty();
        }
        WorkflowRun ws = new WorkflowRun(event, progress);
        if (event.dueAt > now()) {
            ws.phase = WorkflowRun.Phase.BACKOFF;
            setTimer(ws, event.dueAt);
            workflows.put(event.id, ws);
            slots.backingOff(event.key, event.id);
            slots.retryWaiting(event.key, event.id, System.currentTimeMillis());
        } else {
            advance(ws, progress);
        }
    }

    /** Runs local stages in line until the workflow completes, fails, or reaches a remote stage. */
    private void advance(WorkflowRun ws, Progress progress) throws Exception {
        while (true) {
            Workflow.Stage stage = workflow.next(progress);
            if (stage == null) {
                complete(ws, progress);
                return;
            }
            if (!stage.isLocal()) {
                leaveTaskThread(ws);
                startOrQueue(ws, progress, stage);
                return;
            }
            int attempt = progress.attempts(stage.name()) + 1;
            int generation = progress.keyGeneration(stage.name());
            String key = StageContext.idempotencyKey(ws.event.id, stage.name(), generation);
            StageMetrics.PerStage stageMetrics = metrics.stage(stage.name());
            stageMetrics.attempts.inc();
            long started = System.nanoTime();
            JsonNode output;
            try {
                output = stage.local().apply(new StageContext(ws.event, stage.name(), key, attempt,
                        Instant.now().plus(settings.callTimeout()), progress));
            } catch (Exception | LinkageError | StackOverflowError e) {
                progress.pending(stage.name(), attempt, generation);
                ws.tierAttempts++;
                onFailure(ws, progress, stage, e);
                return;
            }
            stageMetrics.latency.update(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
            stageMetrics.successes.inc();
            if (!recordOutput(ws, progress, stage, output, attempt, generation)) {
                return;
            }
            ws.tierAttempts = 0;
        }
    }

    /**
     * The event is about to wait (for a call, a slot, a backoff or the ladder): from now on a
     * duplicate must find it {@code IN_PROGRESS}. An event that completes or fails on the task
     * thread in one go never needs this write: its final status is written once.
     */
    private void leaveTaskThread(WorkflowRun ws) throws Exception {
        if (ws.phase == null) {
            status.put(ws.event.id, EventStatus.IN_PROGRESS);
        }
    }

    private void startOrQueue(WorkflowRun ws, Progress progress, Workflow.Stage stage) throws Exception {
        if (!slots.full(stage.name())) {
            start(ws, progress, stage);
        } else {
            ws.phase = WorkflowRun.Phase.WAITING;
            setTimer(ws, now() + settings.callTimeout().toMillis());
            workflows.put(ws.event.id, ws);
            slots.queue(ws.event.key, ws.event.id, stage.name());
        }
    }

    private void start(WorkflowRun ws, Progress progress, Workflow.Stage stage) throws Exception {
        String eventId = ws.event.id;
        int attempt = progress.attempts(stage.name()) + 1;
        int generation = progress.keyGeneration(stage.name());
        String key = StageContext.idempotencyKey(eventId, stage.name(), generation);
        progress.pending(stage.name(), attempt, generation);
        ws.tierAttempts++;
        ws.phase = WorkflowRun.Phase.IN_FLIGHT;
        long deadline = now() + settings.callTimeout().toMillis();
        // The future times out on its own; the timer (a little later) matters after a restore,
        // when this call is gone with the old task: it issues the call again, with the same key.
        setTimer(ws, deadline + 1000);
        workflows.put(eventId, ws);

        CallSlots.Call call = slots.startCall(ws.event.key, eventId, stage.name());
        metrics.stage(stage.name()).attempts.inc();
        CompletableFuture<JsonNode> result;
        try {
            result = stage.remote().call(new StageContext(ws.event, stage.name(), key, attempt,
                    Instant.ofEpochMilli(deadline), progress));
            if (result == null) {
                result = CompletableFuture.failedFuture(new IllegalStateException(
                        "remote stage " + stage.name() + " returned no future"));
            }
        } catch (RuntimeException | LinkageError e) {
            result = CompletableFuture.failedFuture(e);
        }
        result.orTimeout(settings.callTimeout().toMillis(), TimeUnit.MILLISECONDS)
                .whenComplete((output, failure) -> mailbox.execute(
                        () -> onResult(eventId, call, output, failure),
                        "stage %s result for %s", stage.name(), eventId));
    }

    /** A call's result, back on the task thread. */
    private void onResult(String eventId, CallSlots.Call call, JsonNode output, Throwable failure) throws Exception {
        if (!slots.endCall(call, failure)) {
            return; // superseded: the call timed out and was handled already
        }
        setCurrentKey(call.key());
        WorkflowRun ws = workflows.get(eventId);
        if (ws == null || ws.phase != WorkflowRun.Phase.IN_FLIGHT) {
            drainWaiting();
            return;
        }
        deleteTimer(ws);
        Progress progress = ws.progress;
        Workflow.Stage stage = workflow.stage(call.stage());
        StageMetrics.PerStage stageMetrics = metrics.stage(stage.name());
        stageMetrics.latency.update(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - call.startedNanos()));
        if (failure == null) {
            stageMetrics.successes.inc();
            if (recordOutput(ws, progress, stage, output, progress.attempts(stage.name()),
                    progress.keyGeneration(stage.name()))) {
                ws.tierAttempts = 0;
                advance(ws, progress);
            }
        } else {
            Throwable cause = FailureClass.unwrap(failure);
            if (cause instanceof TimeoutException && cause.getMessage() == null) {
                cause = new TimeoutException("no response from stage " + stage.name() + " within "
                        + settings.callTimeout().toMillis() + " ms");
            }
            onFailure(ws, progress, stage, cause);
        }
        drainWaiting();
    }

    /**
     * Records a completed stage and its output. An output that would grow {@code stagewise.progress}
     * past {@link StagewiseHeaders#MAX_PROGRESS_BYTES} could ride no retry or dead letter record (a
     * sink failing on it would crash-loop the job): the stage is recorded as completed without its
     * output and the event dead-lettered as {@code error}; false then.
     */
    private boolean recordOutput(WorkflowRun ws, Progress progress, Workflow.Stage stage, JsonNode output, int attempts,
                                 int generation) throws Exception {
        long now = System.currentTimeMillis();
        String key = StageContext.idempotencyKey(ws.event.id, stage.name(), generation);
        progress.complete(stage.name(), output, attempts, now, key);
        int bytes = progress.utf8Length();
        if (bytes <= StagewiseHeaders.MAX_PROGRESS_BYTES) {
            return true;
        }
        int outputBytes = output == null ? 0 : utf8Length(output.toString());
        progress.completeWithoutOutput(stage.name(), attempts, now, key, generation, outputBytes);
        ProgressTooLargeException failure = new ProgressTooLargeException("the output of stage " + stage.name()
                + " of event " + ws.event.id + " is " + outputBytes + " bytes: header " + StagewiseHeaders.PROGRESS
                + " would be " + bytes + " bytes, over its limit of " + StagewiseHeaders.MAX_PROGRESS_BYTES + " bytes. The "
                + "stage completed (its effect exists); a replay calls it again with the same idempotency key " + key);
        metrics.stage(stage.name()).failuresError.inc();
        LOG.warn("Stage {} of event {} returned {} bytes, too large for header {}; dead-lettering the event (reason error)",
                stage.name(), ws.event.id, outputBytes, StagewiseHeaders.PROGRESS);
        deadLetter(ws, progress, stage, FailureReason.ERROR, failure);
        return false;
    }

    private static int utf8Length(String text) {
        return text.getBytes(StandardCharsets.UTF_8).length;
    }

    private void onFailure(WorkflowRun ws, Progress progress, Workflow.Stage stage, Throwable failure) throws Exception {
        FailureClass failureClass = FailureClass.of(failure);
        StageMetrics.PerStage stageMetrics = metrics.stage(stage.name());
        switch (failureClass) {
            case PERMANENT:
                stageMetrics.failuresPermanent.inc();
                // (1) A definitive rejection is stored downstream and replayed for its key for ever:
                // the next attempt (a DLQ replay) must use the next key generation.
                progress.pending(stage.name(), progress.attempts(stage.name()), progress.keyGeneration(stage.name()) + 1);
                deadLetter(ws, progress, stage, FailureReason.PERMANENT, failure);
                return;
            case ERROR:
                stageMetrics.failuresError.inc();
                LOG.warn("Stage {} of event {} threw an unexpected exception; dead-lettering it (reason error)",
                        stage.name(), ws.event.id, failure);
                deadLetter(ws, progress, stage, FailureReason.ERROR, failure);
                return;
            case RETRYABLE:
            default:
                stageMetrics.failuresRetryable.inc();
                if (ws.tierAttempts < settings.retry().maxAttempts()) {
                    // (2) Transient: wait out the backoff in a timer, never on the task thread.
                    stageMetrics.retriesScheduled.inc();
                    leaveTaskThread(ws);
                    ws.phase = WorkflowRun.Phase.BACKOFF;
                        setTimer(ws, now() + settings.retry().backoffMillis(ws.tierAttempts, random));
                    workflows.put(ws.event.id, ws);
                    slots.backingOff(ws.event.key, ws.event.id);
                } else if (ws.event.retryStep < settings.ladder().steps()) {
                    // (3) Past the in-operator attempts: the next retry topic, with a durable due time.
                    // The ambiguous ack keeps its key: the effect may already have happened.
                    int next = ws.event.retryStep + 1;
                    leaveTaskThread(ws);
                    DeadLetter retry = DeadLetter.retry(ws.event, stage.name(), failure, progress.attempts(stage.name()),
                            progress.toJson(), System.currentTimeMillis(), next, settings.ladder().delay(next).toMillis());
                    output.collect(RETRIES, new StreamRecord<>(retry));
                    metrics.retriesSent(next).inc();
                    clear(ws); // still the key's running event: per-key ordering keeps later ones waiting
                    // (4) The watchdog: if the record never comes back, re-send it, then dead-letter.
                    ladder.waitFor(retry, retry.dueAt + settings.ladderGrace().toMillis());
                    status.put(retry.eventId, EventStatus.IN_PROGRESS); // refreshes its TTL
                } else {
                    LOG.warn("Stage {} of event {} failed {} time(s) in this operator (retry.count {}); it leaves as "
                                    + "exhausted (stagewise.retry.attempts): {}", stage.name(), ws.event.id, ws.tierAttempts,
                            progress.attempts(stage.name()), failure.toString());
                    deadLetter(ws, progress, stage, FailureReason.EXHAUSTED, failure);
                }
        }
    }

    private void deadLetter(WorkflowRun ws, Progress progress, Workflow.Stage stage, FailureReason reason,
                            Throwable failure) throws Exception {
        output.collect(DEAD_LETTERS, new StreamRecord<>(DeadLetter.of(ws.event, stage.name(), reason, failure,
                progress.attempts(stage.name()), progress.toJson(), System.currentTimeMillis())));
        metrics.deadLettered(reason).inc();
        status.put(ws.event.id, EventStatus.DEAD_LETTERED);
        clear(ws);
        ordering.released(ws.event.id, this::stillPending, this::begin);
    }

    private void complete(WorkflowRun ws, Progress progress) throws Exception {
        CompletedEvent done = CompletedEvent.of(ws.event, progress.outputsJson(), System.currentTimeMillis());
        Optional<String> tooLarge = outputCheck.tooLarge(done);
        if (tooLarge.isPresent()) {
            outputTooLarge(ws, progress, tooLarge.get());
            return;
        }
        output.collect(new StreamRecord<>(done));
        metrics.completed.inc();
        status.put(ws.event.id, EventStatus.COMPLETED);
        clear(ws);
        ordering.released(ws.event.id, this::stillPending, this::begin);
    }

    /**
     * Every stage completed, but the output topic would refuse the record: written anyway, it would
     * fail the output sink at every restart. The event leaves as a dead letter (reason
     * {@code error}, stage {@link StagewiseHeaders#OUTPUT_STAGE}) with its complete progress, so a
     * replay after the topic's limit is raised emits the output without calling any stage again.
     */
    private void outputTooLarge(WorkflowRun ws, Progress progress, String why) throws Exception {
        LOG.warn("Event {} completed, but its output record is too large for the output topic; dead-lettering it "
                + "(reason error): {}", ws.event.id, why);
        output.collect(DEAD_LETTERS, new StreamRecord<>(DeadLetter.of(ws.event, StagewiseHeaders.OUTPUT_STAGE,
                FailureReason.ERROR, new OutputTooLargeException(why), 0, progress.toJson(), System.currentTimeMillis())));
        metrics.deadLettered(FailureReason.ERROR).inc();
        status.put(ws.event.id, EventStatus.DEAD_LETTERED);
        clear(ws);
        ordering.released(ws.event.id, this::stillPending, this::begin);
    }

    private void clear(WorkflowRun ws) throws Exception {
        if (ws.phase == null) {
            return; // finished on the task thread in one go: nothing was stored
        }
        deleteTimer(ws);
        slots.doneWaiting(ws.event.key, ws.event.id);
        workflows.remove(ws.event.id);
    }

    @Override
    public void onProcessingTime(InternalTimer<String, String> timer) throws Exception {
        String eventId = timer.getNamespace();
        WorkflowRun ws = workflows.get(eventId);
        if (ws == null) {
            LadderWait wait = ladder.get(eventId);
            if (wait != null) {
                if (wait.timer == timer.getTimestamp()) {
                    onLadderWatchdog(eventId, wait);
                }
                return;
            }
            onStateExpired(timer.getKey(), eventId);
            return;
        }
        if (ws.timer != timer.getTimestamp()) {
            return; // stale timer of a rescheduled event
        }
        ws.timer = 0;
        Progress progress = ws.progress;
        Workflow.Stage stage = workflow.next(progress);
        switch (ws.phase) {
            case BACKOFF:
                slots.doneWaiting(ws.event.key, eventId);
                advance(ws, progress);
                break;
            case WAITING:
                if (slots.isQueued(ws.event.key, eventId)) {
                    setTimer(ws, now() + settings.callTimeout().toMillis());
                    workflows.put(eventId, ws);
                } else {
                    startOrQueue(ws, progress, stage); // restored: the in-memory queue is gone
                }
                break;
            case IN_FLIGHT:
            default:
                CallSlots.Call call = slots.abandonCall(ws.event.key, eventId, true);
                if (call != null) {
                    onFailure(ws, progress, stage, new TimeoutException("no response from stage " + stage.name()
                            + " within " + settings.callTimeout().toMillis() + " ms"));
                    drainWaiting();
                } else {
                    LOG.info("Re-issuing stage {} of event {} after restore, with the same idempotency key",
                            stage.name(), eventId);
                    startOrQueue(ws, progress, stage);
                }
        }
    }

    @Override
    public void onEventTime(InternalTimer<String, String> timer) {
        // No event-time timers are registered.
    }

    /**
     * The ladder's watchdog: the event's retry record was due {@code ladderGrace} ago and has not
     * come back. (1) Its step is gone from the ladder (the retry topics were lowered): it leaves as
     * exhausted. (2) Re-sends left: the same record goes to the same step again (admission drops
     * whichever copy comes second). (3) Otherwise the record is taken as lost: it leaves as exhausted.
     */
    private void onLadderWatchdog(String eventId, LadderWait wait) throws Exception {
        DeadLetter record = wait.record;
        int steps = settings.ladder().steps();
        if (record.retryStep > steps) {
            leaveLadder(eventId, wait, new RetryRecordLostException("retry step " + record.retryStep + " of event "
                    + eventId + " no longer exists: the job runs with " + steps + " retry topic(s) (--retry-topics, "
                    + "stagewise.retry-topics.count), so its record will not be read; it leaves the ladder as exhausted"));
            return;
        }
        long grace = settings.ladderGrace().toMillis();
        if (wait.resends < settings.ladderResends()) {
            wait.resends++;
            output.collect(RETRIES, new StreamRecord<>(record));
            metrics.retryRecordsResent.inc();
            ladder.rearm(eventId, wait, now() + grace);
            status.put(eventId, EventStatus.IN_PROGRESS); // refreshes its TTL
            LOG.warn("The retry record of event {} for retry step {} was not read back within {} ms of its due time; "
                    + "re-sending it ({} of {}). Check the retry topic and the Kafka transaction timeout", eventId,
                    record.retryStep, grace, wait.resends, settings.ladderResends());
            return;
        }
        leaveLadder(eventId, wait, new RetryRecordLostException("the retry record of event " + eventId + " for retry step "
                + record.retryStep + " was lost: not read back within " + grace + " ms of its due time, re-sent "
                + wait.resends + " time(s). Check the retry topic's retention, the Kafka transaction timeout and "
                + "--max-event-bytes"));
    }

    private void leaveLadder(String eventId, LadderWait wait, RetryRecordLostException failure) throws Exception {
        ladder.end(eventId, wait);
        LOG.warn("Event {} leaves the retry ladder as exhausted: {}", eventId, failure.getMessage());
        output.collect(DEAD_LETTERS, new StreamRecord<>(wait.record.exhausted(failure, System.currentTimeMillis())));
        metrics.deadLettered(FailureReason.EXHAUSTED).inc();
        status.put(eventId, EventStatus.DEAD_LETTERED);
        ordering.released(eventId, this::stillPending, this::begin);
    }

    /**
     * A pending event's timer fired but its state is gone: the TTL'd entries expired (the job was
     * down, or restored, longer than the state TTL after the event's last step). Its bytes are gone
     * with them, so it cannot run on; it is dead-lettered explicitly (reason {@code error}, empty
     * value, unknown origin) and its key released, never dropped in silence. A timer of an event
     * that reached its end is stale and ignored.
     */
    private void onStateExpired(String key, String eventId) throws Exception {
        EventStatus recorded = status.get(eventId);
        if (recorded == EventStatus.COMPLETED || recorded == EventStatus.DEAD_LETTERED) {
            return;
        }
        slots.abandonCall(key, eventId, false);
        slots.doneWaiting(key, eventId);
        IllegalStateException failure = new IllegalStateException("the state of event " + eventId + " (key " + key
                + ") expired while it was in flight: the job was down or behind longer than the state TTL (--dedup-ttl, "
                + "stagewise.dedup.ttl = " + settings.stateTtl() + "). Its original record is no longer held here; find it "
                + "at its source");
        LOG.error("Dead-lettering event {} of key {}: {}", eventId, key, failure.getMessage());
        output.collect(DEAD_LETTERS, new StreamRecord<>(DeadLetter.stateLost(eventId, key, UNKNOWN_STAGE, failure,
                System.currentTimeMillis())));
        metrics.deadLettered(FailureReason.ERROR).inc();
        status.put(eventId, EventStatus.DEAD_LETTERED);
        ordering.released(eventId, this::stillPending, this::begin);
        drainWaiting(); // its call, if it had one, freed a slot
    }

    private void drainWaiting() throws Exception {
        CallSlots.Ref ref;
        while ((ref = slots.nextQueued()) != null) {
            setCurrentKey(ref.key());
            WorkflowRun ws = workflows.get(ref.eventId());
            if (ws != null && ws.phase == WorkflowRun.Phase.WAITING) {
                deleteTimer(ws);
                Progress progress = ws.progress;
                start(ws, progress, workflow.next(progress));
            }
        }
    }

    /**
     * End of bounded input: processing-time timers no longer fire, so retries still waiting out a
     * backoff start at once, and the operator waits (yielding to the mailbox) until every event has
     * completed or been dead-lettered.
     */
    @Override
    public void finish() throws Exception {
        while (!slots.idle()) {
            for (CallSlots.Ref ref : slots.backingOff()) {
                if (slots.blocked()) {
                    break;
                }
                String eventId = ref.eventId();
                slots.doneWaiting(ref.key(), eventId);
                setCurrentKey(ref.key());
                WorkflowRun ws = workflows.get(eventId);
                if (ws != null && ws.phase == WorkflowRun.Phase.BACKOFF) {
                    deleteTimer(ws);
                    advance(ws, ws.progress);
                }
            }
            if (slots.hasCalls()) {
                mailbox.yield();
            } else {
                drainWaiting();
            }
        }
        super.finish();
    }

    @Override
    public void close() throws Exception {
        try {
            for (Workflow.Stage stage : workflow.stages()) {
                if (!stage.isLocal()) {
                    stage.remote().close();
                }
            }
        } finally {
            super.close();
        }
    }

    private void setTimer(WorkflowRun ws, long at) {
        deleteTimer(ws);
        timers.registerProcessingTimeTimer(ws.event.id, at);
        ws.timer = at;
    }

    private void deleteTimer(WorkflowRun ws) {
        if (ws.timer != 0) {
            timers.deleteProcessingTimeTimer(ws.event.id, ws.timer);
            ws.timer = 0;
        }
    }

    private long now() {
        return getProcessingTimeService().getCurrentProcessingTime();
    }
}
