package io.stagewise.sinks.kafka;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.stagewise.operators.event.CompletedEvent;
import io.stagewise.operators.event.DeadLetter;
import io.stagewise.operators.event.Event;
import io.stagewise.operators.event.FailureReason;
import io.stagewise.operators.event.Origin;
import io.stagewise.operators.event.StagewiseHeaders;
import io.stagewise.operators.ingest.EventParser;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.metrics.groups.UnregisteredMetricsGroup;
import org.apache.flink.util.SimpleUserCodeClassLoader;
import org.apache.flink.util.UserCodeClassLoader;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;

class KafkaSerializersTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static String header(ProducerRecord<byte[], byte[]> record, String name) {
        var header = record.headers().lastHeader(name);
        return header == null ? null : new String(header.value(), StandardCharsets.UTF_8);
    }

    @Test
    void completedEventsAreJsonKeyedByBusinessKey() throws Exception {
        CompletedEvent done = new CompletedEvent();
        done.eventId = "pay-1";
        done.type = "payment.requested";
        done.key = "acct-7";
        done.payload = "{\"amount\":\"12.50\",\"note\":\"a \\\"quoted\\\" word\"}";
        done.outputs = "{\"charge\":{\"charge_id\":\"ch_1\"}}";
        done.completedAt = 42;
        done.origin = new Origin("payments", 3, 17, 1000);

        ProducerRecord<byte[], byte[]> record = new CompletedEventSerializer("payments.completed").serialize(done, null, null);

        assertThat(record.topic()).isEqualTo("payments.completed");
        assertThat(new String(record.key(), StandardCharsets.UTF_8)).isEqualTo("acct-7");
        assertThat(header(record, StagewiseHeaders.EVENT_ID)).isEqualTo("pay-1");
        JsonNode value = JSON.readTree(record.value());
        assertThat(value.path("id").asText()).isEqualTo("pay-1");
        assertThat(value.path("payload").path("note").asText()).isEqualTo("a \"quoted\" word");
        assertThat(value.path("outputs").path("charge").path("charge_id").asText()).isEqualTo("ch_1");
        assertThat(value.path("completedAt").asLong()).isEqualTo(42);
        assertThat(value.path("origin").path("offset").asLong()).isEqualTo(17);
    }

    /**
     * docs/event-format.md: the output's payload is the input's payload as it arrived. Written from the
     * payload's bytes (the parsed record's slice) or from its text (the writer before), the output is the
     * same bytes, and parses to the same tree, for tricky payloads; records written one after the other
     * through the reused buffer stay apart.
     */
    @Test
    void payloadBytesAndPayloadTextGiveTheSameOutput() throws Exception {
        List<String> payloads = List.of(
                "{\"note\":\"ü € 😀 \\u00e9 \\ud83d\\ude00\"}",
                "{\"esc\":\"a \\\"quoted\\\" \\\\ back\\/slash \\n\\t\\b\"}",
                "{ \"spaced\" :  [ 1 , 2.50e3 , -0 ] ,\n  \"nested\": {\"a\": {\"b\": [null, true, {}]}} }",
                "{}",
                "{\"large\":\"" + "x€".repeat(100_000) + "\"}");
        CompletedEventSerializer bytesWriter = new CompletedEventSerializer("out");
        CompletedEventSerializer textWriter = new CompletedEventSerializer("out");
        EventParser parser = new EventParser(EventParser.DEFAULT_MAX_EVENT_BYTES);
        for (String payload : payloads) {
            byte[] value = ("{\"id\":\"pay-1\",\"type\":\"t\",\"key\":\"acct-1\",\"payload\":" + payload + ",\"z\":1}")
                    .getBytes(StandardCharsets.UTF_8);
            Event event = parser.parse(null, value, new Origin("payments", 1, 2, 3), Map.of());
            assertThat(event.hasPayloadSlice()).isTrue();
            CompletedEvent fromBytes = CompletedEvent.of(event, "{\"validate\":{}}", 9);
            CompletedEvent fromText = CompletedEvent.of(event, "{\"validate\":{}}", 9);
            fromText.payloadBytes = null;
            fromText.payload = payload;

            byte[] out = bytesWriter.serialize(fromBytes, null, null).value();

            assertThat(out).isEqualTo(textWriter.serialize(fromText, null, null).value());
            JsonNode tree = JSON.readTree(out);
            assertThat(tree.path("payload")).isEqualTo(JSON.readTree(payload));
            assertThat(tree.path("id").asText()).isEqualTo("pay-1");
            assertThat(tree.path("outputs").has("validate")).isTrue();
            assertThat(bytesWriter.recordBytes(fromBytes)).isEqualTo(textWriter.recordBytes(fromText));
        }
    }

    @Test
    void completedEventsReuseTheBufferWithoutLeakingBytesAcrossRecords() {
        CompletedEventSerializer serializer = new CompletedEventSerializer("out");
        CompletedEvent first = new CompletedEvent();
        first.eventId = "pay-long-" + "x".repeat(600);
        first.type = "t";
        first.key = "k";
        first.payload = "{\"pad\":\"" + "y".repeat(600) + "\"}";
        first.outputs = "{}";
        first.origin = new Origin("in", 0, 1, 2);
        CompletedEvent second = new CompletedEvent();
        second.eventId = "pay-2";
        second.type = null;
        second.key = "k2";
        second.payload = null;
        second.outputs = "{\"validate\":{\"ok\":true}}";
        second.completedAt = 7;
        second.origin = new Origin("in", 1, 5, 6);

        byte[] firstValue = serializer.serialize(first, null, null).value();
        byte[] secondValue = serializer.serialize(second, null, null).value();

        assertThat(new String(secondValue, StandardCharsets.UTF_8)).isEqualTo("{\"id\":\"pay-2\",\"type\":null,"
                + "\"key\":\"k2\",\"payload\":{},\"outputs\":{\"validate\":{\"ok\":true}},\"completedAt\":7,"
                + "\"origin\":{\"topic\":\"in\",\"partition\":1,\"offset\":5,\"timestamp\":6}}");
        assertThat(new String(firstValue, StandardCharsets.UTF_8)).startsWith("{\"id\":\"pay-long-x")
                .endsWith("\"origin\":{\"topic\":\"in\",\"partition\":0,\"offset\":1,\"timestamp\":2}}");
    }

    private static DeadLetter letter() {
        DeadLetter letter = new DeadLetter();
        letter.eventId = "pay-2";
        letter.recordKey = "acct-1".getBytes(StandardCharsets.UTF_8);
        letter.value = new byte[] {1, 2, 3};
        letter.origin = new Origin("payments", 1, 5, 99);
        letter.stage = "charge";
        letter.reason = FailureReason.EXHAUSTED;
        letter.failureClass = "java.io.IOException";
        letter.failureMessage = "reset";
        letter.failureAt = 1_000;
        letter.retryCount = 3;
        letter.progress = "{\"stages\":{}}";
        return letter;
    }

    @Test
    void deadLettersKeepTheOriginalBytesAndCarryEveryHeader() {
        ProducerRecord<byte[], byte[]> record = new DeadLetterSerializer("payments.dlq").serialize(letter(), null, null);

        assertThat(record.topic()).isEqualTo("payments.dlq");
        assertThat(record.value()).containsExactly(1, 2, 3);
        for (String name : StagewiseHeaders.DEAD_LETTER_HEADERS) {
            assertThat(header(record, name)).as(name).isNotNull();
        }
        assertThat(header(record, StagewiseHeaders.FAILURE_REASON)).isEqualTo("exhausted");
        assertThat(header(record, StagewiseHeaders.ORIGIN_OFFSET)).isEqualTo("5");
        assertThat(header(record, StagewiseHeaders.RETRY_DUE_AT)).isNull();
        assertThat(header(record, StagewiseHeaders.REPLAY_OF)).isNull();
    }

    @Test
    void retryRecordsGoToTheirStepWithADueTime() {
        DeadLetter retry = letter();
        retry.retryStep = 2;
        retry.dueAt = 21_000;
        ProducerRecord<byte[], byte[]> record = new RetryRecordSerializer("payments").serialize(retry, null, null);

        assertThat(record.topic()).isEqualTo("payments.retry.2");
        assertThat(header(record, StagewiseHeaders.RETRY_DUE_AT)).isEqualTo("21000");
        assertThat(header(record, StagewiseHeaders.RETRY_COUNT)).isEqualTo("3");

        retry.retryStep = 0;
        assertThatThrownBy(() -> new RetryRecordSerializer("payments").serialize(retry, null, null))
                .hasMessageContaining("no retry step");
    }

    @Test
    void deadLettersCarryTheCauseTheStackTraceAndTheJob() {
        DeadLetter letter = letter().failedWith(new RuntimeException("boom", new IllegalArgumentException("root")));
        DeadLetterSerializer serializer = new DeadLetterSerializer("payments.dlq");
        serializer.open(taskContext("stagewise pipeline payments"), null);

        ProducerRecord<byte[], byte[]> record = serializer.serialize(letter, null, null);

        assertThat(header(record, StagewiseHeaders.FAILURE_CLASS)).isEqualTo("java.lang.RuntimeException");
        assertThat(header(record, StagewiseHeaders.FAILURE_CAUSE_CLASS)).isEqualTo("java.lang.IllegalArgumentException");
        assertThat(header(record, StagewiseHeaders.FAILURE_STACKTRACE))
                .startsWith("java.lang.RuntimeException: boom")
                .contains("Caused by: java.lang.IllegalArgumentException: root");
        assertThat(header(record, StagewiseHeaders.JOB)).isEqualTo("stagewise pipeline payments");
    }

    @Test
    void aDeadLetterWithoutAnExceptionHasNoCauseOrTrace() {
        ProducerRecord<byte[], byte[]> record = new DeadLetterSerializer("payments.dlq").serialize(letter(), null, null);

        assertThat(header(record, StagewiseHeaders.FAILURE_CAUSE_CLASS)).isNull();
        assertThat(header(record, StagewiseHeaders.FAILURE_STACKTRACE)).isNull();
        assertThat(header(record, StagewiseHeaders.JOB)).isEqualTo(DeadLetterSerializer.UNKNOWN_JOB);
    }

    /** What a Kafka sink writer hands the serializer: a task metric group carrying the job's name. */
    private static SerializationSchema.InitializationContext taskContext(String jobName) {
        MetricGroup group = new UnregisteredMetricsGroup() {
            @Override
            public Map<String, String> getAllVariables() {
                return Map.of("<job_name>", jobName);
            }
        };
        return new SerializationSchema.InitializationContext() {
            @Override
            public MetricGroup getMetricGroup() {
                return group;
            }

            @Override
            public UserCodeClassLoader getUserCodeClassLoader() {
                return SimpleUserCodeClassLoader.create(KafkaSerializersTest.class.getClassLoader());
            }
        };
    }
}
