package io.stagewise.operators.stage;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * A batch call whose per-item answers a test scripts, recording every batch (as its keys). Pure
 * test double for the batching stage's logic; the real gateway is exercised by the jobs ITCases.
 * State is static because Flink serializes the workflow into the operator.
 */
final class ScriptedBatchCall implements BatchCall {
    private static final long serialVersionUID = 1L;
    private static final ObjectMapper JSON = new ObjectMapper();

    static final List<List<String>> BATCHES = new CopyOnWriteArrayList<>();
    /** Per item, by key: its result; default success. */
    static volatile Function<StageContext, Result> item = ctx -> Result.success(JSON.createObjectNode().put("n", ctx.eventId()));
    /** When set, the whole batch answers with this future instead. */
    static volatile Function<List<StageContext>, CompletableFuture<List<Result>>> batch;
    static final Map<String, Integer> SENT = new ConcurrentHashMap<>();

    static void reset() {
        BATCHES.clear();
        SENT.clear();
        item = ctx -> Result.success(JSON.createObjectNode().put("n", ctx.eventId()));
        batch = null;
    }

    @Override
    public CompletableFuture<List<Result>> send(List<StageContext> items, Instant deadline) {
        BATCHES.add(items.stream().map(StageContext::idempotencyKey).collect(Collectors.toList()));
        items.forEach(ctx -> SENT.merge(ctx.idempotencyKey(), 1, Integer::sum));
        if (batch != null) {
            return batch.apply(items);
        }
        return CompletableFuture.completedFuture(items.stream().map(item).collect(Collectors.toList()));
    }
}
