package io.stagewise.operators.stage;

import org.apache.flink.annotation.Internal;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.io.JsonStringEncoder;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The progress of one event through its workflow: a typed value in keyed state
 * ({@link ProgressSerializer}) and, as JSON, in the {@code stagewise.progress} header of retry and
 * DLQ records (docs/topics-and-headers.md):
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
 *
 * <p>Guarantee: {@link #toJson()} writes the header exactly as earlier versions did (the field order
 * above, stages in completion order, a stage completed again keeps its place), and
 * {@code parse(p.toJson())} equals {@code p}. Each stage output is kept as the JSON text it was
 * serialized to once, when the stage completed; its tree is parsed again only if a later stage asks
 * for it ({@link StageContext#output}). Nothing is re-parsed or re-serialized per event: the header
 * size check ({@link #utf8Length()}) and the output record ({@link #outputsJson()}) concatenate the
 * kept texts. Fields of a header that this format does not know are dropped when it is parsed.
 */
@Internal
public final class Progress {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String EMPTY_JSON = "{\"stages\":{}}";

    /**
     * Completed stages, in completion order (a stage completed again keeps its place). Few: a list,
     * allocated with the first one (most events start with none).
     */
    private List<StageRecord> stages;
    /** The pending stage, or null. */
    private String pendingStage;
    private int pendingAttempts;
    private int pendingKeyGeneration;

    private Progress(List<StageRecord> stages) {
        this.stages = stages;
    }

    public static Progress empty() {
        return new Progress(Collections.emptyList());
    }

    /**
     * Parses progress JSON; {@code null}, blank or {@code {}} means no progress.
     *
     * @throws IllegalArgumentException if it is not a JSON object
     */
    public static Progress parse(String json) {
        if (json == null || json.equals("{}") || json.isBlank()) {
            return empty();
        }
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("progress is not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException("progress is not a JSON object: " + json);
        }
        Progress progress = empty();
        JsonNode stages = root.path("stages");
        if (stages.isObject()) {
            Iterator<Map.Entry<String, JsonNode>> it = stages.fields();
            while (it.hasNext()) {
                Map.Entry<String, JsonNode> e = it.next();
                JsonNode record = e.getValue();
                JsonNode output = record.get("output");
                JsonNode key = record.get("key");
                JsonNode omitted = record.get("outputOmittedBytes");
                progress.put(new StageRecord(e.getKey(), output == null ? null : output.toString(), output,
                        omitted == null ? -1 : omitted.asInt(0), record.path("attempts").asInt(0),
                        record.path("completedAt").asLong(0), key == null || key.isNull() ? null : key.asText()));
            }
        }
        JsonNode pending = root.get("pending");
        if (pending != null) {
            JsonNode stage = pending.get("stage");
            if (stage != null && !stage.isNull()) {
                progress.pending(stage.asText(), pending.path("attempts").asInt(0), pending.path("keyGeneration").asInt(1));
            }
        }
        return progress;
    }

    private StageRecord record(String stage) {
        for (int i = 0; i < stages.size(); i++) {
            StageRecord record = stages.get(i);
            if (record.name.equals(stage)) {
                return record;
            }
        }
        return null;
    }

    private void put(StageRecord record) {
        if (stages.isEmpty()) {
            stages = new ArrayList<>(4);
        }
        for (int i = 0; i < stages.size(); i++) {
            if (stages.get(i).name.equals(record.name)) {
                stages.set(i, record);
                return;
            }
        }
        stages.add(record);
    }

    public boolean isCompleted(String stage) {
        return record(stage) != null;
    }

    /** The output of a completed stage, or null. */
    public JsonNode output(String stage) {
        StageRecord record = record(stage);
        return record == null ? null : record.output();
    }

    /** Records a stage as completed with its output; clears {@code pending} if it was this stage. */
    public void complete(String stage, JsonNode output, int attempts, long completedAt, String idempotencyKey) {
        put(new StageRecord(stage, output == null ? "null" : output.toString(), output, -1, attempts, completedAt,
                idempotencyKey));
        if (stage.equals(pendingStage)) {
            pendingStage = null;
        }
    }

    /**
     * Records a stage as completed whose output is too large to carry ({@code stagewise.progress}
     * has a size limit): its effect exists, but a later run must call it again, with the same
     * idempotency key ({@code keyGeneration}), to get the output back; {@link Workflow#next} does.
     */
    public void completeWithoutOutput(String stage, int attempts, long completedAt, String idempotencyKey,
                                      int keyGeneration, int outputBytes) {
        put(new StageRecord(stage, null, null, outputBytes, attempts, completedAt, idempotencyKey));
        pending(stage, attempts, keyGeneration);
    }

    /** True if the stage completed but its output was left out ({@link #completeWithoutOutput}). */
    public boolean isOutputOmitted(String stage) {
        StageRecord record = record(stage);
        return record != null && record.outputOmittedBytes >= 0;
    }

    public String pendingStage() {
        return pendingStage;
    }

    /** Downstream attempts the stage has had so far, all tiers together (0 if it is not pending). */
    public int attempts(String stage) {
        return stage.equals(pendingStage) ? pendingAttempts : 0;
    }

    /** The idempotency key generation the stage's next attempt uses (1 unless bumped). */
    public int keyGeneration(String stage) {
        return stage.equals(pendingStage) ? Math.max(1, pendingKeyGeneration) : 1;
    }

    public void pending(String stage, int attempts, int keyGeneration) {
        pendingStage = stage;
        pendingAttempts = attempts;
        pendingKeyGeneration = keyGeneration;
    }

    /** Names of the completed stages, in completion order. */
    public List<String> completedStages() {
        List<String> names = new ArrayList<>(stages.size());
        for (StageRecord record : stages) {
            names.add(record.name);
        }
        return Collections.unmodifiableList(names);
    }

    /** {@code {"stage": output, ...}} of every completed stage, in completion order. */
    public String outputsJson() {
        if (stages.isEmpty()) {
            return "{}";
        }
        StringBuilder out = new StringBuilder(64);
        out.append('{');
        for (int i = 0; i < stages.size(); i++) {
            StageRecord record = stages.get(i);
            if (i > 0) {
                out.append(',');
            }
            quote(record.name, out).append(':').append(record.outputJson == null ? "null" : record.outputJson);
        }
        return out.append('}').toString();
    }

    /** The {@code stagewise.progress} header value. */
    public String toJson() {
        if (stages.isEmpty() && pendingStage == null) {
            return EMPTY_JSON;
        }
        StringBuilder out = new StringBuilder(128);
        out.append("{\"stages\":{");
        for (int i = 0; i < stages.size(); i++) {
            if (i > 0) {
                out.append(',');
            }
            out.append(stages.get(i).fragment());
        }
        out.append('}');
        appendPending(out);
        return out.append('}').toString();
    }

    /** The UTF-8 length of {@link #toJson()}, from the kept per-stage texts (no header is built). */
    public int utf8Length() {
        int length = EMPTY_JSON.length() + Math.max(0, stages.size() - 1);
        for (int i = 0; i < stages.size(); i++) {
            length += stages.get(i).fragmentUtf8Length();
        }
        if (pendingStage != null) {
            StringBuilder pending = new StringBuilder(64);
            appendPending(pending);
            length += utf8Length(pending);
        }
        return length;
    }

    private void appendPending(StringBuilder out) {
        if (pendingStage != null) {
            out.append(",\"pending\":{\"stage\":");
            quote(pendingStage, out).append(",\"attempts\":").append(pendingAttempts)
                    .append(",\"keyGeneration\":").append(pendingKeyGeneration).append('}');
        }
    }

    static StringBuilder quote(String text, StringBuilder out) {
        out.append('"');
        JsonStringEncoder.getInstance().quoteAsString(text, out);
        return out.append('"');
    }

    /** UTF-8 length of a char sequence, without encoding it. */
    static int utf8Length(CharSequence text) {
        int length = 0;
        for (int i = 0, n = text.length(); i < n; i++) {
            char c = text.charAt(i);
            if (c < 0x80) {
                length++;
            } else if (c < 0x800) {
                length += 2;
            } else if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(text.charAt(i + 1))) {
                length += 4;
                i++;
            } else {
                length += 3;
            }
        }
        return length;
    }

    /** Completed stages in order, for {@link ProgressSerializer}. */
    List<StageRecord> records() {
        return stages;
    }

    int pendingAttempts() {
        return pendingAttempts;
    }

    int pendingKeyGeneration() {
        return pendingKeyGeneration;
    }

    /** For {@link ProgressSerializer}: a progress from its parts, the list taken as is. */
    static Progress of(List<StageRecord> stages, String pendingStage, int pendingAttempts, int pendingKeyGeneration) {
        Progress progress = new Progress(stages);
        progress.pendingStage = pendingStage;
        progress.pendingAttempts = pendingAttempts;
        progress.pendingKeyGeneration = pendingKeyGeneration;
        return progress;
    }

    /** A deep copy: stage records are immutable and shared. */
    Progress copy() {
        return of(stages.isEmpty() ? Collections.emptyList() : new ArrayList<>(stages), pendingStage, pendingAttempts,
                pendingKeyGeneration);
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof Progress other)) {
            return false;
        }
        return stages.equals(other.stages) && Objects.equals(pendingStage, other.pendingStage)
                && (pendingStage == null || pendingAttempts == other.pendingAttempts
                && pendingKeyGeneration == other.pendingKeyGeneration);
    }

    @Override
    public int hashCode() {
        return stages.hashCode() * 31 + (pendingStage == null ? 0 : pendingStage.hashCode());
    }

    @Override
    public String toString() {
        return toJson();
    }

    /**
     * One completed stage. Immutable (the parsed output tree is a cache of {@link #outputJson}):
     * copies of a progress share their records.
     */
    static final class StageRecord {
        final String name;
        /** The output as JSON text; null if the record has none (left out, or absent in a parsed header). */
        final String outputJson;
        /** {@code outputOmittedBytes}, or -1 if the output was not left out. */
        final int outputOmittedBytes;
        final int attempts;
        final long completedAt;
        /** The idempotency key of the call that completed it, or null. */
        final String key;
        private transient JsonNode output;
        private transient String fragment;
        /** {@link #fragment()}'s UTF-8 length, once known: the size check asks for it after every stage. */
        private transient int fragmentUtf8Length = -1;

        StageRecord(String name, String outputJson, JsonNode output, int outputOmittedBytes, int attempts,
                    long completedAt, String key) {
            this.name = name;
            this.outputJson = outputJson;
            this.output = output;
            this.outputOmittedBytes = outputOmittedBytes;
            this.attempts = attempts;
            this.completedAt = completedAt;
            this.key = key;
        }

        JsonNode output() {
            if (output == null && outputJson != null) {
                try {
                    output = JSON.readTree(outputJson);
                } catch (JsonProcessingException e) {
                    throw new IllegalStateException("stored output of stage " + name + " is not JSON", e);
                }
            }
            return output;
        }

        /** {@code "name":{...}} as in the header; built once. */
        String fragment() {
            if (fragment == null) {
                StringBuilder out = new StringBuilder(64 + (outputJson == null ? 0 : outputJson.length()));
                quote(name, out).append(":{");
                if (outputOmittedBytes >= 0) {
                    out.append("\"outputOmittedBytes\":").append(outputOmittedBytes).append(',');
                } else if (outputJson != null) {
                    out.append("\"output\":").append(outputJson).append(',');
                }
                out.append("\"attempts\":").append(attempts).append(",\"completedAt\":").append(completedAt);
                if (key != null) {
                    out.append(",\"key\":");
                    quote(key, out);
                }
                fragment = out.append('}').toString();
            }
            return fragment;
        }

        int fragmentUtf8Length() {
            if (fragmentUtf8Length < 0) {
                fragmentUtf8Length = utf8Length(fragment());
            }
            return fragmentUtf8Length;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof StageRecord r && name.equals(r.name) && Objects.equals(outputJson, r.outputJson)
                    && outputOmittedBytes == r.outputOmittedBytes && attempts == r.attempts
                    && completedAt == r.completedAt && Objects.equals(key, r.key);
        }

        @Override
        public int hashCode() {
            return name.hashCode() * 31 + Long.hashCode(completedAt);
        }
    }
}
