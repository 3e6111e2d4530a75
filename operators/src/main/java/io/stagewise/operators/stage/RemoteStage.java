package io.stagewise.operators.stage;

import org.apache.flink.annotation.PublicEvolving;
import com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.metrics.MetricGroup;
import java.io.Serializable;
import java.util.concurrent.CompletableFuture;

/**
 * A stage that calls a downstream service asynchronously. {@link #call} must not block: it starts
 * the call and returns a future the engine completes the stage with, on the task thread. The call
 * must carry {@link StageContext#idempotencyKey()} so that repeating it is harmless.
 *
 * <p>Complete the future exceptionally with {@link RetryableStageException} (5xx, 409 in use, 429,
 * timeouts, I/O errors are retryable anyway) or {@link PermanentStageException} (a definitive
 * rejection); anything else counts as an error in stage code.
 */
@PublicEvolving
public interface RemoteStage extends Serializable {
    /** Called once per subtask before the first call: create clients here. */
    default void open() throws Exception {}

    /**
     * Called once per subtask before the first call, with this stage's metric group
     * ({@code stagewise.stage.<name>}) for metrics of its own; by default {@link #open()}.
     */
    default void open(MetricGroup stageMetrics) throws Exception {
        open();
    }

    CompletableFuture<JsonNode> call(StageContext context);

    /**
     * How many calls this stage can use at once now, on this subtask: more would only wait inside
     * it, their deadlines running, where they could as well wait in the source. The engine keeps
     * the stage's in-flight limit at or below it. By default no bound of its own; a
     * {@link BatchingStage} answers what its batches in flight and the next ones can carry.
     * Called on the task thread after {@link #open}.
     */
    default int maxCallsNow() {
        return Integer.MAX_VALUE;
    }

    default void close() throws Exception {}
}
