package io.stagewise.operators.stage;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;

/**
 * A remote stage whose answers a test scripts, recording every call. Pure test double for the
 * operator's own logic; the real HTTP gateway is exercised by the jobs module's ITCases.
 * State is static because Flink serializes the workflow into the operator.
 */
final class ScriptedStage implements RemoteStage {
    private static final long serialVersionUID = 1L;
    private static final ObjectMapper JSON = new ObjectMapper();

    record CallRecord(String stage, String key, int attempt) {}

    static final List<CallRecord> CALLS = new CopyOnWriteArrayList<>();
    static final Map<String, Function<StageContext, CompletableFuture<JsonNode>>> SCRIPTS = new ConcurrentHashMap<>();
    static final Map<String, CompletableFuture<JsonNode>> PENDING = new ConcurrentHashMap<>();
    static volatile int outstanding;
    static volatile int maxOutstanding;

    private final String name;

    ScriptedStage(String name) {
        this.name = name;
    }

    static void reset() {
        CALLS.clear();
        SCRIPTS.clear();
        PENDING.clear();
        outstanding = 0;
        maxOutstanding = 0;
    }

    static JsonNode ok(String field, String value) {
        return JSON.createObjectNode().put(field, value);
    }

    /** A future the test completes later; tracks how many are outstanding at once. */
    static CompletableFuture<JsonNode> pending(StageContext ctx) {
        CompletableFuture<JsonNode> future = new CompletableFuture<>();
        synchronized (ScriptedStage.class) {
            outstanding++;
            maxOutstanding = Math.max(maxOutstanding, outstanding);
        }
        future.whenComplete((v, e) -> {
            synchronized (ScriptedStage.class) {
                outstanding--;
            }
        });
        PENDING.put(ctx.idempotencyKey() + "#" + ctx.attempt(), future);
        return future;
    }

    static long calls(String stage, String key) {
        return CALLS.stream().filter(c -> c.stage().equals(stage) && c.key().equals(key)).count();
    }

    @Override
    public CompletableFuture<JsonNode> call(StageContext context) {
        CALLS.add(new CallRecord(name, context.idempotencyKey(), context.attempt()));
        Function<StageContext, CompletableFuture<JsonNode>> script = SCRIPTS.get(name);
        return script == null ? CompletableFuture.completedFuture(ok("stage", name)) : script.apply(context);
    }
}
