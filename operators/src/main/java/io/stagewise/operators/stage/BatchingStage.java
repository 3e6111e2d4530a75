package io.stagewise.operators.stage;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.flink.annotation.Internal;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.HistogramStatistics;
import org.apache.flink.metrics.MeterView;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.metrics.SimpleCounter;
import org.apache.flink.runtime.metrics.DescriptiveStatisticsHistogram;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A remote stage that groups the calls of one subtask into batches for a {@link BatchCall}
 * (docs/failures.md, "Reactive batching"). Each {@link #call} adds its item, with its own
 * idempotency key, to the pending batch and returns that item's own future.
 *
 * <p>Guarantee: exactly what a single-call stage gives. Every item gets its own result (success,
 * retryable, permanent or error), so one failing item never fails the others; a whole-batch
 * failure fails each item with that failure (a timeout, a 503 for the batch, an I/O error:
 * retryable). Nothing about a batch is state: an item in flight at a checkpoint is an event whose
 * stage is pending in the engine's keyed state, and after a restore the engine calls the stage
 * again for it with the same idempotency key, so it joins a new batch and its effect happens once.
 *
 * <p>When a batch goes: (1) when the pending items reach the current size ({@link BatchSizeController},
 * on the calling task thread), or {@link BatchSettings#linger()} after the first pending item (on a
 * timer thread owned by this stage, started in {@link #open(MetricGroup)} and stopped in
 * {@link #close()}), whichever comes first; (2) while the controller's window of batches (at most
 * {@link BatchSettings#maxBatchesInFlight()}) is out, items wait; when one is answered the next
 * goes at once if full, else within the linger. A batch that went full, or whose items waited for a
 * slot, had backlog, which grows the size or the window. The window is the only bound on batches in
 * flight. (3) The stage takes in only what its batches carry ({@link #maxCallsNow()}: twice the
 * current size x window), so the engine keeps the rest of a backlog in the source: an item waits
 * here about one batch latency, not the length of a queue its call timeout would run out in. Source
 * lag shows as items waiting for a slot. (4) After the dependency refused a batch (503, 429), the
 * next one waits one good batch latency ({@link BatchSizeController#holdNanos()}). Items complete on
 * the client's or the timer's thread; the engine moves each result back to the task thread through
 * its mailbox.
 *
 * <p>Metrics, in the stage's group ({@code stagewise.stage.<name>}): {@code batchSize} (the
 * current size), {@code batchWindow} (batches that may be in flight), {@code batchLatencyMs}
 * (histogram), {@code batchPending} (items waiting for a batch), {@code batchItemsPerSecond}.
 */
@Internal
public final class BatchingStage implements RemoteStage {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(BatchingStage.class);

    private final String stage;
    private final BatchCall call;
    private final BatchSettings settings;

    private transient Object lock;
    private transient ArrayDeque<Item> pending;
    private transient ScheduledFuture<?> lingerTask;
    /** Batches sent and not yet answered; at most the controller's window. */
    private transient int inFlight;
    /** Items arrived while every batch slot was taken, and some still wait: demand beyond the window. */
    private transient boolean backlog;
    private transient ScheduledExecutorService timer;
    private transient BatchSizeController controller;
    private transient DescriptiveStatisticsHistogram latency;
    private transient Counter items;
    /** Batches dropped as a whole, for the summary logged on close (answered ones: the latency's count). */
    private transient long batchesDropped;

    BatchingStage(String stage, BatchCall call, BatchSettings settings) {
        this.stage = stage;
        this.call = call;
        this.settings = settings;
    }

    /** One call waiting for, or riding in, a batch. */
    private record Item(StageContext context, CompletableFuture<JsonNode> result) {}

    public BatchSettings settings() {
        return settings;
    }

    @Override
    public void open() throws Exception {
        open(null);
    }

    @Override
    public void open(MetricGroup stageMetrics) throws Exception {
        lock = new Object();
        pending = new ArrayDeque<>();
        controller = new BatchSizeController(settings.minBatch(), settings.maxBatch(),
                settings.latencyTarget().toNanos() / 1000, settings.maxBatchesInFlight(), System::nanoTime);
        latency = new DescriptiveStatisticsHistogram(1000);
        items = new SimpleCounter();
        timer = Executors.newSingleThreadScheduledExecutor(runnable -> {
            Thread thread = new Thread(runnable, "stagewise-batch-" + stage);
            thread.setDaemon(true);
            return thread;
        });
        if (stageMetrics != null) {
            stageMetrics.gauge("batchSize", this::size);
            stageMetrics.gauge("batchWindow", this::window);
            stageMetrics.gauge("batchPending", this::pendingItems);
            stageMetrics.histogram("batchLatencyMs", latency);
            stageMetrics.counter("batchItems", items);
            stageMetrics.meter("batchItemsPerSecond", new MeterView(items));
        }
        call.open();
    }

    /** The current batch size (the controller's). */
    public int size() {
        synchronized (lock) {
            return controller.size();
        }
    }

    /** Batches that may be in flight now (the controller's window). */
    public int window() {
        synchronized (lock) {
            return controller.window();
        }
    }

    int pendingItems() {
        synchronized (lock) {
            return pending.size();
        }
    }

    /**
     * (3) The items this stage can use now: twice the current size x window, a window's worth of
     * batches out and the next one's items waiting, so a freed slot finds a full batch.
     */
    @Override
    public int maxCallsNow() {
        if (lock == null) {
            return Integer.MAX_VALUE; // not open yet
        }
        synchronized (lock) {
            return (int) Math.min(Integer.MAX_VALUE, 2L * controller.size() * controller.window());
        }
    }

    @Override
    public CompletableFuture<JsonNode> call(StageContext context) {
        Item item = new Item(context, new CompletableFuture<>());
        synchronized (lock) {
            pending.add(item);
            // (2) with every batch slot taken, the item goes when a batch is answered
            backlog |= inFlight >= controller.window();
        }
        sendWhileRoom(false);
        return item.result();
    }

    /**
     * The linger timer: whatever waits goes now, in batches of at most the current size,
     * while the window has room.
     */
    private void linger() {
        sendWhileRoom(true);
    }

    /**
     * Sends full batches while the window has room; with room left and fewer items than the size
     * waiting, sends them too if {@code lingered}, or else starts the linger timer: a new item, and
     * a slot freed by an answer, get {@link BatchSettings#linger()} to fill a batch. After a refusal
     * nothing goes before the controller's hold ends (rule 8), a batch short of the size not before
     * the linger either.
     */
    private void sendWhileRoom(boolean lingered) {
        while (true) {
            List<Item> batch;
            long epoch;
            boolean backlogged;
            synchronized (lock) {
                if (lingered && lingerTask != null) {
                    lingerTask.cancel(false);
                    lingerTask = null;
                }
                if (pending.isEmpty() || inFlight >= controller.window()) {
                    return;
                }
                int size = controller.size();
                boolean full = pending.size() >= size;
                long wait = Math.max(controller.holdNanos(), full || lingered ? 0 : settings.linger().toNanos());
                if (wait > 0) {
                    if (lingerTask == null) {
                        lingerTask = timer.schedule(this::linger, wait, TimeUnit.NANOSECONDS);
                    }
                    return;
                }
                epoch = controller.epoch();
                backlogged = full || backlog;
                batch = take(size);
            }
            send(batch, backlogged, epoch);
        }
    }

    /** Under the lock: the first {@code size} pending items, counted as a batch in flight. */
    private List<Item> take(int size) {
        inFlight++;
        List<Item> batch = new ArrayList<>(Math.min(size, pending.size()));
        while (batch.size() < size && !pending.isEmpty()) {
            batch.add(pending.poll());
        }
        if (pending.isEmpty()) {
            backlog = false;
            if (lingerTask != null) {
                lingerTask.cancel(false);
                lingerTask = null;
            }
        }
        return batch;
    }

    /** @param backlogged whether its items waited for it: it went full, or they waited for a batch slot */
    private void send(List<Item> batch, boolean backlogged, long epoch) {
        // An item whose future is done was given up by the engine (its call timed out): leave it out.
        batch.removeIf(item -> item.result().isDone());
        if (batch.isEmpty()) {
            synchronized (lock) {
                inFlight--;
            }
            sendWhileRoom(false);
            return;
        }
        List<StageContext> contexts = new ArrayList<>(batch.size());
        Instant deadline = Instant.MAX;
        for (Item item : batch) {
            contexts.add(item.context());
            if (item.context().deadline().isBefore(deadline)) {
                deadline = item.context().deadline();
            }
        }
        long started = System.nanoTime();
        CompletableFuture<List<BatchCall.Result>> results;
        try {
            results = call.send(contexts, deadline);
            if (results == null) {
                results = CompletableFuture.failedFuture(new IllegalStateException("batch call of stage " + stage
                        + " returned no future"));
            }
        } catch (RuntimeException | LinkageError e) {
            results = CompletableFuture.failedFuture(e);
        }
        long waitMillis = Math.max(1, deadline.toEpochMilli() - System.currentTimeMillis());
        results.orTimeout(waitMillis, TimeUnit.MILLISECONDS)
                .whenComplete((outcomes, failure) -> complete(batch, outcomes, failure, started, backlogged, epoch));
    }

    private void complete(List<Item> batch, List<BatchCall.Result> outcomes, Throwable failure, long started,
                          boolean backlogged, long epoch) {
        long micros = TimeUnit.NANOSECONDS.toMicros(System.nanoTime() - started);
        latency.update(micros / 1000);
        int retryable = 0;
        BatchSizeController.Drop drop = BatchSizeController.Drop.NONE;
        if (failure == null && (outcomes == null || outcomes.size() != batch.size())) {
            failure = new IllegalStateException("batch call of stage " + stage + " returned "
                    + (outcomes == null ? "no" : outcomes.size()) + " results for " + batch.size() + " items");
        }
        if (failure != null) {
            Throwable cause = FailureClass.unwrap(failure);
            if (cause instanceof TimeoutException && cause.getMessage() == null) {
                cause = new TimeoutException("no response to a batch of " + batch.size() + " items of stage " + stage
                        + " by the earliest item's deadline");
            }
            if (FailureClass.of(cause) == FailureClass.RETRYABLE) {
                retryable = batch.size();
                drop = BatchSizeController.Drop.of(cause);
            } else {
                LOG.warn("A batch of {} items of stage {} failed as a whole (first event {}): {}", batch.size(), stage,
                        batch.get(0).context().eventId(), cause.toString());
            }
            for (Item item : batch) {
                item.result().completeExceptionally(cause);
            }
        } else {
            for (int i = 0; i < batch.size(); i++) {
                BatchCall.Result outcome = outcomes.get(i);
                Item item = batch.get(i);
                if (outcome == null) {
                    item.result().completeExceptionally(new IllegalStateException("batch call of stage " + stage
                            + " returned no result for event " + item.context().eventId()));
                } else if (outcome.failure() == null) {
                    item.result().complete(outcome.output());
                } else {
                    if (FailureClass.of(outcome.failure()) == FailureClass.RETRYABLE) {
                        retryable++;
                    }
                    item.result().completeExceptionally(outcome.failure());
                }
            }
        }
        synchronized (lock) {
            items.inc(batch.size()); // under the lock: answers complete on several client threads
            batchesDropped += drop == BatchSizeController.Drop.NONE ? 0 : 1;
            long before = controller.epoch();
            controller.onBatch(epoch, batch.size(), backlogged, micros, retryable, drop);
            if (drop != BatchSizeController.Drop.NONE && controller.epoch() != before) {
                LOG.info("A batch of {} items of stage {} was refused as a whole (first event {}): now at most {} batches "
                                + "of {} items in flight, probing past {} items (--max-batches-in-flight, --max-batch)",
                        batch.size(), stage, batch.get(0).context().eventId(), controller.window(), controller.size(),
                        controller.threshold());
            }
            inFlight--;
        }
        // Items that waited for a free batch slot go now if they fill a batch, else within the linger.
        try {
            timer.execute(() -> sendWhileRoom(false));
        } catch (RejectedExecutionException closed) {
            // closed with the task: waiting items are re-issued after the restore
        }
    }

    @Override
    public void close() throws Exception {
        try {
            if (timer != null) {
                timer.shutdownNow();
            }
            // Items still pending are dropped with the task: their events are pending in keyed state,
            // and a restore calls the stage again for them, with the same keys.
            if (pending != null) {
                synchronized (lock) {
                    pending.clear();
                    long answered = latency.getCount();
                    if (answered > 0) {
                        HistogramStatistics recent = latency.getStatistics();
                        LOG.info("Stage {} had {} batches answered ({} items, {} per batch on average), {} of them refused "
                                        + "or timed out as a whole; the last {} took {} ms at the median and {} ms at most; "
                                        + "it closed at a size of {} and a window of {}", stage, answered, items.getCount(),
                                items.getCount() / answered, batchesDropped, recent.size(),
                                Math.round(recent.getQuantile(0.5)), recent.getMax(), controller.size(), controller.window());
                    }
                }
            }
        } finally {
            call.close();
        }
    }
}
