package io.stagewise.operators.stage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.stagewise.operators.event.Event;
import io.stagewise.operators.event.Origin;
import java.nio.charset.StandardCharsets;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.junit.jupiter.api.Test;

/** The typed progress writes the {@code stagewise.progress} header exactly as the JSON-tree version did. */
class ProgressTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Headers as 0.1.0-SNAPSHOT wrote them (its ObjectNode printed with toString()). */
    private static final String EMPTY = "{\"stages\":{}}";
    private static final String VALIDATED_CHARGE_PENDING = "{\"stages\":{\"validate\":{\"output\":{\"ok\":true,\"n\":\"Zürich \\\"q\\\"\\n\"},"
            + "\"attempts\":1,\"completedAt\":1764266400000,\"key\":\"pay-1:validate\"}},"
            + "\"pending\":{\"stage\":\"charge\",\"attempts\":3,\"keyGeneration\":2}}";
    private static final String OMITTED = "{\"stages\":{\"validate\":{\"output\":null,\"attempts\":1,\"completedAt\":7,\"key\":\"e:validate\"},"
            + "\"charge\":{\"outputOmittedBytes\":70000,\"attempts\":2,\"completedAt\":8,\"key\":\"e:charge\"}},"
            + "\"pending\":{\"stage\":\"charge\",\"attempts\":2,\"keyGeneration\":1}}";

    @Test
    void writesTheHeaderAsEarlierVersionsDid() throws Exception {
        assertThat(Progress.empty().toJson()).isEqualTo(EMPTY);

        Progress progress = Progress.empty();
        progress.pending("validate", 1, 1);
        progress.complete("validate", JSON.readTree("{\"ok\":true,\"n\":\"Zürich \\\"q\\\"\\n\"}"), 1, 1764266400000L,
                "pay-1:validate");
        progress.pending("charge", 3, 2);
        assertThat(progress.toJson()).isEqualTo(VALIDATED_CHARGE_PENDING);

        Progress omitted = Progress.empty();
        omitted.complete("validate", null, 1, 7, "e:validate");
        omitted.completeWithoutOutput("charge", 2, 8, "e:charge", 1, 70000);
        assertThat(omitted.toJson()).isEqualTo(OMITTED);
        assertThat(omitted.isOutputOmitted("charge")).isTrue();
        assertThat(omitted.output("validate").isNull()).isTrue();
    }

    @Test
    void parsesWhatItWritesAndWritesWhatItParses() {
        for (String header : new String[] {EMPTY, VALIDATED_CHARGE_PENDING, OMITTED}) {
            Progress parsed = Progress.parse(header);
            assertThat(parsed.toJson()).isEqualTo(header);
            assertThat(Progress.parse(parsed.toJson())).isEqualTo(parsed);
        }
        Progress parsed = Progress.parse(VALIDATED_CHARGE_PENDING);
        assertThat(parsed.pendingStage()).isEqualTo("charge");
        assertThat(parsed.attempts("charge")).isEqualTo(3);
        assertThat(parsed.keyGeneration("charge")).isEqualTo(2);
        assertThat(parsed.attempts("validate")).isZero();
        assertThat(parsed.keyGeneration("validate")).isEqualTo(1);
        assertThat(parsed.output("validate").path("n").asText()).isEqualTo("Zürich \"q\"\n");
        assertThat(parsed.completedStages()).containsExactly("validate");
        assertThat(Progress.parse(null).toJson()).isEqualTo(EMPTY);
        assertThat(Progress.parse("{}").toJson()).isEqualTo(EMPTY);
    }

    @Test
    void aStageCompletedAgainKeepsItsPlaceAndClearsPending() throws Exception {
        Progress progress = Progress.parse(OMITTED);
        progress.complete("charge", JSON.readTree("{\"id\":\"ch-1\"}"), 3, 9, "e:charge");
        progress.complete("notify", JSON.readTree("{}"), 1, 10, "e:notify");
        assertThat(progress.pendingStage()).isNull();
        assertThat(progress.completedStages()).containsExactly("validate", "charge", "notify");
        assertThat(progress.outputsJson()).isEqualTo("{\"validate\":null,\"charge\":{\"id\":\"ch-1\"},\"notify\":{}}");
        assertThat(progress.toJson()).doesNotContain("pending").doesNotContain("outputOmittedBytes");
    }

    @Test
    void knowsItsUtf8LengthWithoutWritingTheHeader() throws Exception {
        Progress progress = Progress.empty();
        assertThat(progress.utf8Length()).isEqualTo(EMPTY.length());
        ObjectNode output = JSON.createObjectNode().put("text", "Zürich € \uD83D\uDE00 \u0001 \"\\")
                .put("n", 12.5);
        progress.complete("välidate", output, 1, 1, "e€:välidate");
        progress.pending("chärge", 1, 1);
        assertThat(progress.utf8Length()).isEqualTo(progress.toJson().getBytes(StandardCharsets.UTF_8).length);
        progress.complete("chärge", null, 1, 2, null);
        assertThat(progress.utf8Length()).isEqualTo(progress.toJson().getBytes(StandardCharsets.UTF_8).length);
    }

    @Test
    void refusesWhatIsNotAJsonObject() {
        assertThatThrownBy(() -> Progress.parse("[1,2]")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("not a JSON object");
        assertThatThrownBy(() -> Progress.parse("{\"stages\":")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("not valid JSON");
    }

    @Test
    void theStateSerializersRoundTripEveryField() throws Exception {
        Progress progress = Progress.parse(OMITTED);
        progress.complete("notify", JSON.readTree("{\"a\":[1,2]}"), 1, 10, null);
        DataOutputSerializer out = new DataOutputSerializer(64);
        ProgressSerializer.INSTANCE.serialize(progress, out);
        ProgressSerializer.INSTANCE.serialize(Progress.empty(), out);
        DataInputDeserializer in = new DataInputDeserializer(out.getCopyOfBuffer());
        Progress back = ProgressSerializer.INSTANCE.deserialize(in);
        assertThat(back).isEqualTo(progress);
        assertThat(back.toJson()).isEqualTo(progress.toJson());
        assertThat(ProgressSerializer.INSTANCE.deserialize(in)).isEqualTo(Progress.empty());

        Event event = new Event();
        event.id = "e";
        event.key = "acct-1";
        event.payload = "{}";
        event.progress = "{}";
        event.origin = new Origin("payments", 1, 2, 3);
        WorkflowRun run = new WorkflowRun(event, progress);
        run.tierAttempts = 2;
        run.phase = WorkflowRun.Phase.BACKOFF;
        run.timer = 12345;
        out.clear();
        WorkflowRunSerializer.INSTANCE.serialize(run, out);
        WorkflowRun copy = WorkflowRunSerializer.INSTANCE.deserialize(new DataInputDeserializer(out.getCopyOfBuffer()));
        assertThat(copy.event.id).isEqualTo("e");
        assertThat(copy.event.origin.partition).isEqualTo(1);
        assertThat(copy.progress).isEqualTo(progress);
        assertThat(copy.tierAttempts).isEqualTo(2);
        assertThat(copy.phase).isEqualTo(WorkflowRun.Phase.BACKOFF);
        assertThat(copy.timer).isEqualTo(12345);

        WorkflowRun copied = WorkflowRunSerializer.INSTANCE.copy(run);
        copied.progress.pending("notify", 5, 1);
        assertThat(run.progress.pendingStage()).as("a copy is deep").isEqualTo("charge");
    }
}
