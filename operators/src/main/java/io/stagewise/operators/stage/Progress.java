package io.stagewise.operators.stage;

import org.apache.flink.annotation.Internal;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Iterator;
import java.util.Map;

/**
 * The progress of one event through its workflow, as carried in state and in the
 * {@code stagewise.progress} header of retry and DLQ records:
 *
 * <pre>{@code
 * {"stages":  {"validate": {"output": {...}, "attempts": 1, "completedAt": 1764266400000, "key": "pay-1:validate"}},
 *  "pending": {"stage": "charge", "attempts": 3, "keyGeneration": 1}}
 * }</pre>
 *
 * <p>{@code stages} lists completed stages and their outputs: a retry or replay resumes after them
 * and never calls them again. {@code pending} is the stage that failed or is under way: how many
 * downstream attempts it has had, across all tiers, and which idempotency key generation the next
 * attempt uses (bumped after a definitive rejection, so a replay is not answered by the stored
 * rejection for ever).
 */
@Internal
public final class Progress {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final ObjectNode root;

    private Progress(ObjectNode root) {
        this.root = root;
        if (!root.path("stages").isObject()) {
            root.putObject("stages");
        }
    }

    public static Progress empty() {
        return new Progress(JSON.createObjectNode());
    }

    /** Parses progress JSON; {@code null} or blank means no progress. */
    public static Progress parse(String json) {
        if (json == null || json.isBlank()) {
            return empty();
        }
        try {
            JsonNode node = JSON.readTree(json);
            if (!(node instanceof ObjectNode)) {
                throw new IllegalArgumentException("progress is not a JSON object: " + json);
            }
            return new Progress((ObjectNode) node);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("progress is not valid JSON: " + e.getOriginalMessage(), e);
        }
    }

    private ObjectNode stages() {
        return (ObjectNode) root.get("stages");
    }

    public boolean isCompleted(String stage) {
        return stages().has(stage);
    }

    /** The output of a completed stage, or null. */
    public JsonNode output(String stage) {
        JsonNode record = stages().get(stage);
        return record == null ? null : record.get("output");
    }

    /** Records a stage as completed with its output; clears {@code pending} if it was this stage. */
    public void complete(String stage, JsonNode output, int attempts, long completedAt, String idempotencyKey) {
        ObjectNode record = stages().putObject(stage);
        record.set("output", output == null ? JSON.nullNode() : output);
        record.put("attempts", attempts);
        record.put("completedAt", completedAt);
        if (idempotencyKey != null) {
            record.put("key", idempotencyKey);
        }
        if (stage.equals(pendingStage())) {
            root.remove("pending");
        }
    }

    /**
     * Records a stage as completed whose output is too large to carry ({@code stagewise.progress}
     * has a size limit): its effect exists, but a later run must call it again, with the same
     * idempotency key ({@code keyGeneration}), to get the output back; {@link Workflow#next} does.
     */
    public void completeWithoutOutput(String stage, int attempts, long completedAt, String idempotencyKey,
                                      int keyGeneration, int outputBytes) {
        ObjectNode record = stages().putObject(stage);
        record.put("outputOmittedBytes", outputBytes);
        record.put("attempts", attempts);
        record.put("completedAt", completedAt);
        if (idempotencyKey != null) {
            record.put("key", idempotencyKey);
        }
        pending(stage, attempts, keyGeneration);
    }

    /** True if the stage completed but its output was left out ({@link #completeWithoutOutput}). */
    public boolean isOutputOmitted(String stage) {
        JsonNode record = stages().get(stage);
        return record != null && record.has("outputOmittedBytes");
    }

    public String pendingStage() {
        JsonNode pending = root.get("pending");
        return pending == null ? null : pending.path("stage").asText(null);
    }

    /** Downstream attempts the stage has had so far, all tiers together (0 if it is not pending). */
    public int attempts(String stage) {
        return stage.equals(pendingStage()) ? root.path("pending").path("attempts").asInt(0) : 0;
    }

    /** The idempotency key generation the stage's next attempt uses (1 unless bumped). */
    public int keyGeneration(String stage) {
        return stage.equals(pendingStage()) ? Math.max(1, root.path("pending").path("keyGeneration").asInt(1)) : 1;
    }

    public void pending(String stage, int attempts, int keyGeneration) {
        root.putObject("pending").put("stage", stage).put("attempts", attempts).put("keyGeneration", keyGeneration);
    }

    /** {@code {"stage": output, ...}} of every completed stage, in completion order. */
    public String outputsJson() {
        ObjectNode outputs = JSON.createObjectNode();
        Iterator<Map.Entry<String, JsonNode>> it = stages().fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            outputs.set(e.getKey(), e.getValue().get("output"));
        }
        return outputs.toString();
    }

    public String toJson() {
        return root.toString();
    }

    @Override
    public String toString() {
        return toJson();
    }
}
