package io.stagewise.operators.stage;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.stagewise.operators.event.CompletedEvent;
import io.stagewise.operators.event.Event;
import io.stagewise.operators.event.Origin;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.runtime.state.KeyedStateBackend;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.state.rocksdb.EmbeddedRocksDBStateBackend;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.runtime.tasks.mailbox.Mail;
import org.apache.flink.streaming.runtime.tasks.mailbox.TaskMailbox;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.apache.flink.streaming.util.OperatorSnapshotUtil;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The savepoint compatibility plan of the stage engine's in-flight workflow state: snapshots taken
 * by version 0.1.0-SNAPSHOT before progress became a typed value (state {@code workflow}, a POJO
 * holding progress as JSON text), committed under {@code src/test/resources/compat/}, restore into
 * today's operator, and every event in flight there completes exactly once: completed stages are
 * not called again, their outputs survive, the pending call is re-issued with the same key.
 *
 * <p>The snapshots hold, for each backend: {@code a} with {@code validate} done and {@code charge}
 * in flight; {@code b} in backoff after a retryable {@code charge} failure; {@code c} with
 * {@code charge} done and {@code notify} in flight; {@code d} completed.
 *
 * <p>Regenerate only with the code of the version named in the file names (an intended break):
 * {@code mvn -B -o -pl operators verify -Dtest=WorkflowStateMigrationTest
 * -Dstagewise.regenerate-snapshots=true}, run from the repository root.
 */
class WorkflowStateMigrationTest {
    static final String REGENERATE_PROPERTY = "stagewise.regenerate-snapshots";
    private static final String VERSION = "0.1.0-SNAPSHOT";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final AtomicInteger VALIDATE_CALLS = new AtomicInteger();
    private static final Duration TTL = Duration.ofHours(1);
    /** Non-ASCII and escapes: the output must come back byte for byte. */
    private static final String VALIDATE_OUTPUT = "{\"ok\":true,\"note\":\"Zürich \\\"q\\\" \\u0001\"}";

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

    private static Workflow workflow() {
        return Workflow.named("test")
                .local("validate", ctx -> {
                    VALIDATE_CALLS.incrementAndGet();
                    try {
                        return JSON.readTree(VALIDATE_OUTPUT);
                    } catch (java.io.IOException e) {
                        throw new IllegalStateException(e);
                    }
                })
                .remote("charge", new ScriptedStage("charge"))
                .remote("notify", new ScriptedStage("notify"))
                .build();
    }

    private static StageSettings settings() {
        return new StageSettings(RetrySettings.builder().maxAttempts(3).initialBackoff(Duration.ofMillis(100))
                .jitter(0).build(), Duration.ofSeconds(5), 10, TTL);
    }

    private static Event event(String id, String key) {
        Event event = new Event();
        event.id = id;
        event.type = "payment.requested";
        event.key = key;
        event.payload = "{\"amount\":5}";
        event.progress = "{}";
        event.value = ("{\"id\":\"" + id + "\"}").getBytes();
        event.origin = new Origin("payments", 0, id.charAt(0), 1000);
        return event;
    }

    private KeyedOneInputStreamOperatorTestHarness<String, Event, CompletedEvent> open(boolean rocksDb,
            OperatorSubtaskState restore) throws Exception {
        KeyedOneInputStreamOperatorTestHarness<String, Event, CompletedEvent> h = new KeyedOneInputStreamOperatorTestHarness<>(
                new StageOperatorFactory(workflow(), settings()), e -> e.key, Types.STRING);
        if (rocksDb) {
            h.setStateBackend(new EmbeddedRocksDBStateBackend());
        }
        if (restore != null) {
            h.initializeState(restore);
        }
        h.open();
        return h;
    }

    private static Path snapshotFile(boolean rocksDb) {
        return Path.of("src/test/resources/compat/stage-workflow-in-flight-" + VERSION + "-" + (rocksDb ? "rocksdb" : "heap")
                + ".snapshot");
    }

    /** Takes the committed snapshot with the code of {@link #VERSION} (never runs unless asked). */
    private void regenerate(boolean rocksDb) throws Exception {
        Map<String, Function<StageContext, CompletableFuture<JsonNode>>> scripts = ScriptedStage.SCRIPTS;
        AtomicInteger bChargeFailures = new AtomicInteger();
        scripts.put("charge", ctx -> switch (ctx.eventId()) {
            case "a" -> ScriptedStage.pending(ctx);
            case "b" -> bChargeFailures.getAndIncrement() == 0
                    ? CompletableFuture.failedFuture(new RetryableStageException("503 from the gateway"))
                    : CompletableFuture.completedFuture(ScriptedStage.ok("charge", "ch-b"));
            default -> CompletableFuture.completedFuture(ScriptedStage.ok("charge", "ch-" + ctx.eventId()));
        });
        scripts.put("notify", ctx -> ctx.eventId().equals("c") ? ScriptedStage.pending(ctx)
                : CompletableFuture.completedFuture(ScriptedStage.ok("notify", "sent")));
        harness = open(rocksDb, null);
        harness.setProcessingTime(1);
        for (String[] e : new String[][] {{"d", "acct-4"}, {"a", "acct-1"}, {"b", "acct-2"}, {"c", "acct-3"}}) {
            harness.processElement(new StreamRecord<>(event(e[0], e[1])));
            drain();
        }
        assertThat(completedIds()).containsExactly("d");
        OperatorSubtaskState state = harness.snapshot(1, 2);
        Files.createDirectories(snapshotFile(rocksDb).getParent());
        OperatorSnapshotUtil.writeStateHandle(state, snapshotFile(rocksDb).toString());
        harness.getOperator().close(); // as a failover drops it: the calls in flight are abandoned
        harness = null;
        ScriptedStage.reset();
    }

    private static OperatorSubtaskState committed(boolean rocksDb) throws Exception {
        String name = "/compat/" + snapshotFile(rocksDb).getFileName();
        URL url = WorkflowStateMigrationTest.class.getResource(name);
        assertThat(url).as("committed snapshot %s", name).isNotNull();
        try {
            return OperatorSnapshotUtil.readStateHandle(Path.of(url.toURI()).toString());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    @ParameterizedTest(name = "RocksDB: {0}")
    @ValueSource(booleans = {false, true})
    void workflowsInFlightInAnOldSnapshotCompleteExactlyOnce(boolean rocksDb) throws Exception {
        if (Boolean.getBoolean(REGENERATE_PROPERTY)) {
            regenerate(rocksDb);
        }
        harness = open(rocksDb, committed(rocksDb));
        harness.setProcessingTime(2);
        drain(); // a's and c's calls in flight are re-issued at the restore, with the same keys
        assertThat(completedIds()).as("b's backoff is not due yet").containsExactlyInAnyOrder("a", "c");

        harness.processElement(new StreamRecord<>(event("d", "acct-4")));
        drain();
        harness.setProcessingTime(1_000); // b's backoff is due
        drain();
        assertThat(completedIds()).containsExactlyInAnyOrder("a", "c", "b");
        harness.setProcessingTime(10_000); // past every old call deadline: nothing is issued again
        drain();
        harness.processElement(new StreamRecord<>(event("a", "acct-1")));
        drain();

        assertThat(completedIds()).as("every event once; d and the re-sent a dropped as duplicates")
                .containsExactlyInAnyOrder("a", "b", "c");
        assertThat(VALIDATE_CALLS).as("validate completed before the snapshot: never called again").hasValue(0);
        assertThat(ScriptedStage.CALLS).extracting(ScriptedStage.CallRecord::stage, ScriptedStage.CallRecord::key,
                        ScriptedStage.CallRecord::attempt)
                .containsExactlyInAnyOrder(
                        org.assertj.core.groups.Tuple.tuple("charge", "b:charge", 2),
                        org.assertj.core.groups.Tuple.tuple("notify", "b:notify", 1),
                        org.assertj.core.groups.Tuple.tuple("charge", "a:charge", 2),
                        org.assertj.core.groups.Tuple.tuple("notify", "a:notify", 1),
                        org.assertj.core.groups.Tuple.tuple("notify", "c:notify", 2));
        Map<String, String> outputs = harness.extractOutputValues().stream()
                .collect(Collectors.toMap(done -> done.eventId, done -> done.outputs));
        assertThat(outputs.get("a")).isEqualTo("{\"validate\":" + VALIDATE_OUTPUT
                + ",\"charge\":{\"stage\":\"charge\"},\"notify\":{\"stage\":\"notify\"}}");
        assertThat(outputs.get("c")).isEqualTo("{\"validate\":" + VALIDATE_OUTPUT
                + ",\"charge\":{\"charge\":\"ch-c\"},\"notify\":{\"stage\":\"notify\"}}");
        assertThat(harness.numProcessingTimeTimers()).isZero();
        KeyedStateBackend<String> backend = harness.getOperator().getKeyedStateBackend();
        for (String name : List.of(StageStateDescriptors.WORKFLOW, StageStateDescriptors.WORKFLOW_RUN)) {
            try (Stream<String> keys = backend.getKeys(name, VoidNamespace.INSTANCE)) {
                assertThat(keys.count()).as("keys holding " + name).isZero();
            }
        }
    }

    private void drain() throws Exception {
        TaskMailbox mailbox = harness.getTaskMailbox();
        Optional<Mail> mail;
        while ((mail = mailbox.tryTake(TaskMailbox.MIN_PRIORITY)).isPresent()) {
            mail.get().run();
        }
    }

    private List<String> completedIds() {
        return harness.extractOutputValues().stream().map(c -> c.eventId).collect(Collectors.toList());
    }
}
