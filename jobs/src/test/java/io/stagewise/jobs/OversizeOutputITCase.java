package io.stagewise.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.stagewise.jobs.audit.Audit;
import io.stagewise.jobs.audit.AuditReport;
import io.stagewise.jobs.audit.TopicReader;
import io.stagewise.jobs.local.FlinkRest;
import io.stagewise.jobs.local.LocalFlink;
import io.stagewise.operators.event.StagewiseHeaders;
import io.stagewise.operators.ingest.EventParser;
import io.stagewise.operators.stage.Workflow;
import io.stagewise.testkit.EmbeddedKafka;
import io.stagewise.testkit.FreePorts;
import io.stagewise.testkit.PaymentGenerator;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.config.TopicConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An output record larger than the output topic's {@code max.message.bytes} (issue 9, item 9): the
 * event goes to the DLQ with reason {@code error}, saying why and the sizes; the output sink never
 * fails, so the job neither restarts nor stops processing the other events, and the audit holds.
 */
class OversizeOutputITCase {
    private static final int OUTPUT_MAX_MESSAGE_BYTES = 10 * 1024;
    private static final int SMALL_EVENTS = 20;

    @TempDir
    Path tmp;

    @Test
    void anOutputRecordOverTheTopicLimitIsDeadLetteredAndTheJobKeepsRunning() throws Exception {
        try (EmbeddedKafka kafka = EmbeddedKafka.start(tmp.resolve("kafka"))) {
            String bootstrap = kafka.bootstrapServers();
            String input = PipelineTestSupport.INPUT;
            String output = PipelineTestSupport.OUTPUT;
            try (Admin admin = Topics.admin(bootstrap)) {
                Topics.create(admin, input, 2, Map.of());
                Topics.create(admin, output, 2,
                        Map.of(TopicConfig.MAX_MESSAGE_BYTES_CONFIG, Integer.toString(OUTPUT_MAX_MESSAGE_BYTES)));
            }
            List<PaymentGenerator.Record> records = new ArrayList<>();
            for (int i = 0; i < SMALL_EVENTS / 2; i++) {
                records.add(event("small-" + i, "acct-" + (i % 3), "x"));
            }
            // Well inside the input's 1 MiB limit, twice the output topic's.
            records.add(event("big-1", "acct-1", "y".repeat(2 * OUTPUT_MAX_MESSAGE_BYTES)));
            for (int i = SMALL_EVENTS / 2; i < SMALL_EVENTS; i++) {
                records.add(event("small-" + i, "acct-" + (i % 3), "x"));
            }
            PaymentGenerator.send(records, bootstrap, input, 0, n -> { });

            Configuration conf = FlinkSettings.defaults(Duration.ofMillis(300), tmp.resolve("checkpoints"));
            conf.set(StagewiseOptions.BOOTSTRAP_SERVERS, bootstrap);
            PipelineSettings settings = PipelineSettings.from(conf);
            Topics.Layout layout = PipelineJob.prepareTopics(settings);
            int port = FreePorts.pick();
            StreamExecutionEnvironment env = LocalFlink.withDashboard(conf, port);
            env.setParallelism(2);
            PipelineJob.assemble(env, settings, Endpoints.production(settings, layout,
                    Workflow.named("dedup-only").build()));
            JobClient job = env.executeAsync("oversize-output-it");
            List<ConsumerRecord<byte[], byte[]>> letters;
            try {
                FlinkRest rest = new FlinkRest(LocalFlink.dashboardUrl(port), job.getJobID());
                PipelineTestSupport.awaitOutput(bootstrap, SMALL_EVENTS, Duration.ofSeconds(90));
                letters = await("the oversize event in the DLQ").atMost(Duration.ofSeconds(60))
                        .pollInterval(Duration.ofMillis(500))
                        .until(() -> TopicReader.readAll(bootstrap, Topics.dlq(input), Duration.ofSeconds(30)),
                                l -> !l.isEmpty());
                assertThat(rest.restarts()).as("the job never restarted").isZero();
            } finally {
                job.cancel().get(30, TimeUnit.SECONDS);
            }

            assertThat(letters).hasSize(1);
            ConsumerRecord<byte[], byte[]> letter = letters.get(0);
            assertThat(header(letter, StagewiseHeaders.EVENT_ID)).isEqualTo("big-1");
            assertThat(header(letter, StagewiseHeaders.FAILURE_REASON)).isEqualTo("error");
            assertThat(header(letter, StagewiseHeaders.FAILURE_MESSAGE))
                    .contains("big-1")
                    .contains("max.message.bytes")
                    .contains(Integer.toString(OUTPUT_MAX_MESSAGE_BYTES));
            assertThat(letter.value()).as("the original record, untouched").isEqualTo(records.get(SMALL_EVENTS / 2).value());

            List<ConsumerRecord<byte[], byte[]>> outputs = TopicReader.readAll(bootstrap, output, Duration.ofSeconds(30));
            assertThat(outputs).hasSize(SMALL_EVENTS);
            assertThat(outputs).extracting(r -> header(r, StagewiseHeaders.EVENT_ID)).doesNotContain("big-1");

            AuditReport report = Audit.run(PipelineTestSupport.topics(bootstrap), EventParser.DEFAULT_MAX_EVENT_BYTES,
                    Optional.empty());
            assertThat(report.passed()).as(report.render()).isTrue();
            assertThat(report.count("completed")).isEqualTo(SMALL_EVENTS);
            assertThat(report.count("deadLetters")).isEqualTo(1);
        }
    }

    private static PaymentGenerator.Record event(String id, String key, String note) {
        String json = "{\"id\":\"" + id + "\",\"type\":\"payment.requested\",\"key\":\"" + key
                + "\",\"payload\":{\"account\":\"" + key + "\",\"note\":\"" + note + "\"}}";
        return new PaymentGenerator.Record(key.getBytes(StandardCharsets.UTF_8), json.getBytes(StandardCharsets.UTF_8));
    }

    private static String header(ConsumerRecord<byte[], byte[]> record, String name) {
        return record.headers().lastHeader(name) == null ? null
                : new String(record.headers().lastHeader(name).value(), StandardCharsets.UTF_8);
    }
}
