package io.stagewise.operators.stage;

import org.apache.flink.annotation.PublicEvolving;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.Serializable;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;

/**
 * Sends one batch of stage calls as one request to a batch endpoint, for a batching remote stage
 * ({@link Workflow.Builder#batched}). Every item must carry its own
 * {@link StageContext#idempotencyKey()} and get its own result, so that a repeat of any item, alone
 * or in another batch, is harmless downstream. {@link #send} must not block.
 */
@PublicEvolving
public interface BatchCall extends Serializable {
    /** Called once per subtask before the first batch: create clients here. */
    default void open() throws Exception {}

    /**
     * Sends the items; the future completes with one {@link Result} per item, in the order given, or
     * exceptionally when the whole batch failed (every item then fails with that failure, sorted by
     * {@link FailureClass#of}: a timeout, an I/O error, a 503 for the batch are retryable).
     *
     * @param deadline when the engine stops waiting for the earliest item of the batch
     */
    CompletableFuture<List<Result>> send(List<StageContext> items, Instant deadline);

    default void close() throws Exception {}

    /** One item's outcome: its output, or its failure (sorted like a single call's, {@link FailureClass#of}). */
    final class Result {
        private final JsonNode output;
        private final Throwable failure;

        private Result(JsonNode output, Throwable failure) {
            this.output = output;
            this.failure = failure;
        }

        public static Result success(JsonNode output) {
            return new Result(output, null);
        }

        public static Result failure(Throwable failure) {
            return new Result(null, Objects.requireNonNull(failure, "failure"));
        }

        public JsonNode output() {
            return output;
        }

        /** Null on success. */
        public Throwable failure() {
            return failure;
        }
    }
}
