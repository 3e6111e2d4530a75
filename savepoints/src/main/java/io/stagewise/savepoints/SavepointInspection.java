package io.stagewise.savepoints;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.stagewise.operators.stage.StageOperator;
import io.stagewise.operators.stage.StageStateDescriptors;
import io.stagewise.savepoints.internal.StageStateEntry;
import io.stagewise.savepoints.internal.StageStateEntry.Kind;
import io.stagewise.savepoints.internal.StageStateReader;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.fs.FileStatus;
import org.apache.flink.core.fs.FileSystem;
import org.apache.flink.core.fs.Path;
import org.apache.flink.state.api.OperatorIdentifier;
import org.apache.flink.state.api.SavepointReader;
import org.apache.flink.state.rocksdb.EmbeddedRocksDBStateBackend;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.util.CloseableIterator;

/**
 * What a savepoint or retained checkpoint of the pipeline holds in the stage operator
 * ({@link StageOperator#UID}): per stage the events in flight, waiting for a backoff or a call
 * slot, waiting in each retry step with their due times; parked events per key; dedup entries by
 * status; the age of the oldest entry of each kind; and one event's full record. Read-only: it
 * reads the state with Flink's State Processor API through the operator's own descriptors
 * ({@link StageStateDescriptors}) and never writes to the savepoint. See docs/cli.md.
 *
 * <p>Ages are measured at inspection time from the input record's Kafka timestamp (in flight,
 * parked), from the failure that sent the event to the retry ladder, or, for dedup records, from
 * their last write (the timestamp Flink's state TTL keeps with every TTL'd value: when the record
 * became IN_PROGRESS, COMPLETED or DEAD_LETTERED). Due times of waits are the operator's
 * processing-time timers as it records them next to each timer in the event's state (call
 * deadline, backoff, slot re-check, ladder watchdog); the State Processor API's
 * {@code registeredProcessingTimeTimers()} reads only the timers of a {@code KeyedProcessFunction},
 * not the stage operator's own named timer service.
 */
@PublicEvolving
public final class SavepointInspection {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String METADATA = "_metadata";

    /** The path does not hold a savepoint or checkpoint of a Stagewise pipeline. */
    public static final class NotASavepointException extends IllegalArgumentException {
        private static final long serialVersionUID = 1L;

        NotASavepointException(String message) {
            super(message);
        }
    }

    private final String path;
    private final long inspectedAt;
    private final List<StageStateEntry> entries;

    private SavepointInspection(String path, long inspectedAt, List<StageStateEntry> entries) {
        this.path = path;
        this.inspectedAt = inspectedAt;
        this.entries = entries;
    }

    /** Reads every stage-operator entry of the savepoint or checkpoint at {@code path}. */
    public static SavepointInspection read(String path) throws Exception {
        return read(path, null);
    }

    /**
     * Reads the savepoint or checkpoint at {@code path} (a local path, a {@code _metadata} file, or
     * any Flink filesystem URI), keeping only {@code eventId}'s entries when it is not null.
     *
     * @throws NotASavepointException when {@code path} holds no savepoint, or one without the
     *     stage operator
     */
    public static SavepointInspection read(String path, String eventId) throws Exception {
        checkMetadata(path);
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(new Configuration());
        env.setParallelism(1);
        SavepointReader savepoint = SavepointReader.read(env, path, new EmbeddedRocksDBStateBackend());
        List<StageStateEntry> entries = new ArrayList<>();
        DataStream<StageStateEntry> read;
        try {
            read = savepoint.readKeyedState(OperatorIdentifier.forUid(StageOperator.UID), new StageStateReader(eventId),
                    Types.STRING, TypeInformation.of(StageStateEntry.class));
        } catch (IOException | RuntimeException e) {
            if (String.valueOf(e.getMessage()).contains(StageOperator.UID)) {
                throw new NotASavepointException(path + " holds no state of the stage operator (uid "
                        + StageOperator.UID + "): not a savepoint of the Stagewise pipeline");
            }
            throw e;
        }
        // The keyed state input hands on a null for every key its reader emitted nothing for
        // (most keys under --id); a null reaching the collect sink loses the job's results.
        try (CloseableIterator<StageStateEntry> it = read.filter(Objects::nonNull).name("entries")
                .executeAndCollect("stagewise savepoint inspect")) {
            it.forEachRemaining(entry -> {
                if (eventId == null || eventId.equals(entry.eventId)) {
                    entries.add(entry);
                }
            });
        }
        return new SavepointInspection(path, System.currentTimeMillis(), entries);
    }

    private static void checkMetadata(String location) throws IOException {
        Path path = new Path(location);
        FileSystem fs = path.getFileSystem();
        FileStatus status;
        try {
            status = fs.getFileStatus(path);
        } catch (FileNotFoundException e) {
            throw new NotASavepointException(location + " does not exist");
        }
        boolean metadata = status.isDir() ? fs.exists(new Path(path, METADATA)) : path.getName().equals(METADATA);
        if (!metadata) {
            throw new NotASavepointException(location + " is not a savepoint or checkpoint (no " + METADATA + " file)");
        }
    }

    /** Every entry read, in no particular order. */
    public List<StageStateEntry> entries() {
        return entries;
    }

    /** Event ids waiting in retry {@code step}, with their due times (epoch millis), soonest first. */
    public SortedMap<String, Long> waitingInStep(int step) {
        TreeMap<String, Long> waiting = new TreeMap<>();
        retryWaits().filter(e -> e.step == step).forEach(e -> waiting.merge(e.eventId, e.dueAt, Math::max));
        return waiting;
    }

    /** Dedup entries by status (IN_PROGRESS, COMPLETED, DEAD_LETTERED). */
    public SortedMap<String, Long> dedupByStatus() {
        TreeMap<String, Long> counts = new TreeMap<>();
        of(Kind.STATUS).forEach(e -> counts.merge(e.status, 1L, Long::sum));
        return counts;
    }

    /**
     * Per dedup status, the age in millis (at inspection time) of its oldest record: the longest
     * time since a record of that status was last written. Records of savepoints without the TTL
     * timestamp have none.
     */
    public SortedMap<String, Long> dedupOldestAge() {
        TreeMap<String, Long> ages = new TreeMap<>();
        of(Kind.STATUS).filter(e -> e.since > 0).forEach(e -> ages.merge(e.status, inspectedAt - e.since, Math::max));
        return ages;
    }

    /** Per key, the ids of its parked events in queue order. */
    public SortedMap<String, List<String>> parkedByKey() {
        TreeMap<String, List<String>> parked = new TreeMap<>();
        of(Kind.PARKED).sorted(Comparator.comparingLong(e -> e.sequence))
                .forEach(e -> parked.computeIfAbsent(e.key, k -> new ArrayList<>()).add(e.eventId));
        return parked;
    }

    /**
     * Per stage, the ids of events whose workflow is in {@code phase} (IN_FLIGHT, BACKOFF, WAITING
     * for a call slot); BACKOFF is the in-operator backoff only, not the wait for a retry step's
     * due time ({@link #waitingInStep(int)}).
     */
    public SortedMap<String, List<String>> inPhase(String phase) {
        TreeMap<String, List<String>> byStage = new TreeMap<>();
        of(Kind.WORKFLOW).filter(e -> phase.equals(e.phase) && !e.inRetryStep()).sorted(Comparator.comparing(e -> e.eventId))
                .forEach(e -> byStage.computeIfAbsent(stageName(e), k -> new ArrayList<>()).add(e.eventId));
        return byStage;
    }

    /** The whole report as one JSON object (the form {@code --json} prints). */
    public ObjectNode toJson() {
        ObjectNode root = JSON.createObjectNode();
        root.put("path", path);
        root.put("inspectedAt", inspectedAt);
        ObjectNode stages = root.putObject("stages");
        for (String phase : List.of("IN_FLIGHT", "BACKOFF", "WAITING")) {
            inPhase(phase).forEach((stage, ids) -> {
                ObjectNode s = stages.has(stage) ? (ObjectNode) stages.get(stage) : stages.putObject(stage);
                s.put(phaseField(phase), ids.size());
            });
        }
        ObjectNode ladder = root.putObject("retrySteps");
        retryWaits().map(e -> e.step).distinct().sorted().forEach(step -> {
            ArrayNode waiting = ladder.putArray(Integer.toString(step));
            retryWaits().filter(e -> e.step == step).sorted(Comparator.comparingLong((StageStateEntry e) -> e.dueAt)
                    .thenComparing(e -> e.eventId)).forEach(e -> {
                ObjectNode w = waiting.addObject();
                w.put("id", e.eventId);
                w.put("stage", e.stage);
                w.put("dueAt", e.dueAt);
                w.put("in", e.kind == Kind.WORKFLOW ? "timer" : "retry topic");
                if (e.kind == Kind.LADDER_WAIT && e.timer > 0) {
                    w.put("watchdogAt", e.timer);
                }
            });
        });
        ObjectNode parked = root.putObject("parked");
        parkedByKey().forEach((key, ids) -> {
            ArrayNode list = parked.putArray(key);
            ids.forEach(list::add);
        });
        ObjectNode dedup = root.putObject("dedup");
        dedupByStatus().forEach(dedup::put);
        ObjectNode dedupAges = root.putObject("dedupOldestAgeMillis");
        dedupOldestAge().forEach(dedupAges::put);
        ArrayNode underWay = root.putArray("underWay");
        of(Kind.WORKFLOW).filter(e -> e.phase != null && !e.inRetryStep())
                .sorted(Comparator.comparing((StageStateEntry e) -> e.phase).thenComparing(e -> e.eventId)).forEach(e -> {
                    ObjectNode w = underWay.addObject();
                    w.put("id", e.eventId);
                    w.put("key", e.key);
                    w.put("stage", e.stage);
                    w.put("phase", e.phase);
                    w.put("tierAttempts", e.tierAttempts);
                    if (e.timer > 0) {
                        w.put("timer", timerKind(e.phase));
                        w.put("timerAt", e.timer);
                    }
                });
        ObjectNode oldest = root.putObject("oldestAgeMillis");
        oldestAge(Kind.WORKFLOW, "IN_FLIGHT").ifPresent(a -> oldest.put("inFlight", a));
        oldestAge(Kind.WORKFLOW, "BACKOFF").ifPresent(a -> oldest.put("backoff", a));
        oldestAge(Kind.WORKFLOW, "WAITING").ifPresent(a -> oldest.put("waitingForSlot", a));
        retryWaits().filter(e -> e.since > 0).map(e -> inspectedAt - e.since).max(Long::compare)
                .ifPresent(a -> oldest.put("retry", a));
        oldestAge(Kind.PARKED, null).ifPresent(a -> oldest.put("parked", a));
        return root;
    }

    /** The text report, one section per kind. */
    public String render() {
        StringBuilder out = new StringBuilder();
        out.append("savepoint ").append(path).append(" (stage operator ").append(StageOperator.UID).append(")\n");
        ObjectNode json = toJson();
        out.append("\nper stage            in-flight  backoff  waiting-for-slot\n");
        if (json.get("stages").isEmpty()) {
            out.append("  (no events under way)\n");
        }
        json.get("stages").fields().forEachRemaining(s -> out.append(String.format("  %-18s %9d %8d %17d%n", s.getKey(),
                s.getValue().path("inFlight").asInt(), s.getValue().path("backoff").asInt(), s.getValue().path("waitingForSlot").asInt())));
        if (!json.get("underWay").isEmpty()) {
            out.append("\nunder way\n");
        }
        for (JsonNode w : json.get("underWay")) {
            out.append(String.format("  %-28s %-12s %-10s %s%n", w.path("id").asText(), w.path("stage").asText("?"),
                    w.path("phase").asText(), w.has("timerAt")
                            ? w.path("timer").asText() + " " + Instant.ofEpochMilli(w.path("timerAt").asLong()) : "no timer"));
        }
        out.append("\nretry ladder\n");
        if (json.get("retrySteps").isEmpty()) {
            out.append("  (nothing waiting)\n");
        }
        json.get("retrySteps").fields().forEachRemaining(step -> {
            out.append("  step ").append(step.getKey()).append(": ").append(step.getValue().size()).append(" waiting\n");
            for (JsonNode w : step.getValue()) {
                out.append(String.format("    %-28s %-12s due %s (%s)%n", w.path("id").asText(), w.path("stage").asText("?"),
                        w.path("dueAt").asLong() == 0 ? "unknown (older savepoint)" : Instant.ofEpochMilli(w.path("dueAt").asLong()),
                        w.path("in").asText()));
            }
        });
        out.append("\nparked per key\n");
        if (json.get("parked").isEmpty()) {
            out.append("  (none)\n");
        }
        json.get("parked").fields().forEachRemaining(k -> out.append("  ").append(k.getKey()).append(": ")
                .append(k.getValue().size()).append(" ").append(k.getValue()).append('\n'));
        out.append("\ndedup entries\n");
        if (json.get("dedup").isEmpty()) {
            out.append("  (none)\n");
        }
        json.get("dedup").fields().forEachRemaining(s -> out.append(String.format("  %-14s %d%s%n", s.getKey(), s.getValue().asLong(),
                json.get("dedupOldestAgeMillis").has(s.getKey())
                        ? "  (oldest written " + json.get("dedupOldestAgeMillis").get(s.getKey()).asLong() + " ms ago)" : "")));
        out.append("\noldest entry (age)\n");
        if (json.get("oldestAgeMillis").isEmpty()) {
            out.append("  (none)\n");
        }
        json.get("oldestAgeMillis").fields().forEachRemaining(a -> out.append(String.format("  %-14s %d ms%n", a.getKey(), a.getValue().asLong())));
        return out.toString();
    }

    /** One event's full record as JSON, or empty when the savepoint holds nothing for it. */
    public Optional<ObjectNode> event(String eventId) {
        List<StageStateEntry> mine = entries.stream().filter(e -> eventId.equals(e.eventId)).toList();
        if (mine.isEmpty()) {
            return Optional.empty();
        }
        ObjectNode record = JSON.createObjectNode();
        record.put("id", eventId);
        record.put("key", mine.get(0).key);
        record.put("status", mine.stream().filter(e -> e.kind == Kind.STATUS).findFirst().map(e -> e.status).orElse(null));
        ArrayNode where = record.putArray("waits");
        for (StageStateEntry e : mine) {
            switch (e.kind) {
                case WORKFLOW -> {
                    ObjectNode w = where.addObject();
                    w.put("in", e.inRetryStep() ? "RETRY_STEP" : e.phase == null ? "workflow" : e.phase);
                    if (e.step > 0) {
                        w.put("step", e.step);
                        w.put("dueAt", e.dueAt);
                    }
                    w.put("stage", e.stage);
                    w.put("tierAttempts", e.tierAttempts);
                    w.put("timer", e.timer);
                    if (e.timer > 0 && !e.inRetryStep() && e.phase != null) {
                        w.put("timerKind", timerKind(e.phase));
                    }
                    progress(record, e.progress);
                }
                case LADDER_WAIT -> {
                    ObjectNode w = where.addObject();
                    w.put("in", "RETRY_STEP");
                    w.put("stage", e.stage);
                    w.put("step", e.step);
                    w.put("dueAt", e.dueAt);
                    w.put("resends", e.resends);
                    w.put("watchdogTimer", e.timer);
                    if (!record.has("progress")) {
                        progress(record, e.progress);
                    }
                }
                case LADDER_STEP -> where.addObject().put("in", "RETRY_STEP").put("step", e.step);
                case ACTIVE -> where.addObject().put("in", "RUNNING_FOR_KEY");
                case PARKED -> where.addObject().put("in", "PARKED").put("position", e.sequence);
                case STATUS -> { }
                default -> throw new IllegalStateException("unknown entry kind " + e.kind);
            }
        }
        return Optional.of(record);
    }

    private static void progress(ObjectNode record, String progress) {
        if (progress == null) {
            return;
        }
        try {
            JsonNode node = JSON.readTree(progress);
            record.set("completedStages", node.path("stages"));
            JsonNode pending = node.path("pending");
            if (pending.isObject()) {
                record.put("pendingStage", pending.path("stage").asText(null));
                record.put("attempts", pending.path("attempts").asInt(0));
                record.put("keyGeneration", Math.max(1, pending.path("keyGeneration").asInt(1)));
            }
            record.put("progress", progress);
        } catch (IOException e) {
            record.put("progress", progress);
        }
    }

    private Optional<Long> oldestAge(Kind entryKind, String phase) {
        return of(entryKind).filter(e -> !e.inRetryStep() && (phase == null || phase.equals(e.phase))).filter(e -> e.since > 0)
                .map(e -> inspectedAt - e.since).max(Long::compare);
    }

    private Stream<StageStateEntry> retryWaits() {
        return entries.stream().filter(StageStateEntry::inRetryStep);
    }

    private Stream<StageStateEntry> of(Kind... kinds) {
        List<Kind> wanted = List.of(kinds);
        return entries.stream().filter(e -> wanted.contains(e.kind));
    }

    private static String stageName(StageStateEntry e) {
        return e.stage == null ? "(none)" : e.stage;
    }

    /** What a workflow's timer means in {@code phase}. */
    private static String timerKind(String phase) {
        return switch (phase) {
            case "IN_FLIGHT" -> "callDeadline";
            case "BACKOFF" -> "backoffDue";
            default -> "slotRecheck";
        };
    }

    private static String phaseField(String phase) {
        return switch (phase) {
            case "IN_FLIGHT" -> "inFlight";
            case "BACKOFF" -> "backoff";
            default -> "waitingForSlot";
        };
    }
}
