package io.stagewise.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stagewise.testkit.EmbeddedKafka;
import java.nio.file.Path;
import java.util.Map;
import org.apache.flink.configuration.Configuration;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.config.TopicConfig;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The start-up checks of existing topics' {@code max.message.bytes} (docs/topics-and-headers.md):
 * a DLQ or retry topic that cannot hold the largest dead letter, or an output topic too small for
 * nearly any record, is refused before the job starts, with the command that fixes it.
 */
class TopicLimitsITCase {
    private static final int INPUT_MAX = 1024 * 1024;

    @TempDir
    static Path tmp;
    private static EmbeddedKafka kafka;

    @BeforeAll
    static void startKafka() throws Exception {
        kafka = EmbeddedKafka.start(tmp.resolve("kafka"));
    }

    @AfterAll
    static void stopKafka() throws Exception {
        kafka.close();
    }

    @Test
    void aDlqNoLargerThanTheInputIsRefused() {
        createInput("small-dlq");
        create("small-dlq.dlq", Integer.toString(INPUT_MAX));
        assertThatThrownBy(() -> Topics.prepare(settings("small-dlq", "small-dlq.out")))
                .isInstanceOf(StagewiseException.class)
                .hasMessageContaining("topic 'small-dlq.dlq' has max.message.bytes=" + INPUT_MAX)
                .hasMessageContaining("--add-config max.message.bytes=" + (INPUT_MAX + Topics.HEADER_ROOM_BYTES));
    }

    @Test
    void aRetryTopicNoLargerThanTheInputIsRefused() {
        createInput("small-retry");
        create("small-retry.retry.2", Integer.toString(INPUT_MAX));
        assertThatThrownBy(() -> Topics.prepare(settings("small-retry", "small-retry.out")))
                .isInstanceOf(StagewiseException.class)
                .hasMessageContaining("topic 'small-retry.retry.2' has max.message.bytes=" + INPUT_MAX);
    }

    @Test
    void anOutputTopicTooSmallForAnyRecordIsRefused() {
        createInput("tiny-output");
        create("tiny-output.out", "1024");
        assertThatThrownBy(() -> Topics.prepare(settings("tiny-output", "tiny-output.out")))
                .isInstanceOf(StagewiseException.class)
                .hasMessageContaining("output topic 'tiny-output.out' has max.message.bytes=1024")
                .hasMessageContaining("--entity-name tiny-output.out --add-config max.message.bytes=" + INPUT_MAX);
    }

    @Test
    void aSmallOutputTopicIsAcceptedAndItsLimitReachesTheOutputCheck() {
        createInput("small-output");
        create("small-output.out", "10240");
        PipelineSettings settings = settings("small-output", "small-output.out");
        Topics.Layout layout = Topics.prepare(settings);
        assertThat(layout.outputMaxMessageBytes()).isEqualTo(10240);
        assertThat(layout.dlqMaxMessageBytes()).isEqualTo(INPUT_MAX + Topics.HEADER_ROOM_BYTES);
        assertThat(Endpoints.outputCheck(settings, layout).limitBytes()).isEqualTo(10240);
    }

    private static PipelineSettings settings(String input, String output) {
        Configuration conf = new Configuration();
        conf.set(StagewiseOptions.BOOTSTRAP_SERVERS, kafka.bootstrapServers());
        conf.set(StagewiseOptions.INPUT_TOPIC, input);
        conf.set(StagewiseOptions.OUTPUT_TOPIC, output);
        return PipelineSettings.from(conf);
    }

    private static void createInput(String topic) {
        create(topic, Integer.toString(INPUT_MAX));
    }

    private static void create(String topic, String maxMessageBytes) {
        try (Admin admin = Topics.admin(kafka.bootstrapServers())) {
            Topics.create(admin, topic, 1, Map.of(TopicConfig.MAX_MESSAGE_BYTES_CONFIG, maxMessageBytes));
        }
    }
}
