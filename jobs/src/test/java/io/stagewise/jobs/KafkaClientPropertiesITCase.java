package io.stagewise.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.stagewise.jobs.audit.Audit;
import io.stagewise.jobs.flags.FlagBindings;
import io.stagewise.jobs.flags.PipelineFlags;
import io.stagewise.jobs.reconcile.ReconcileFlags;
import io.stagewise.operators.ingest.EventParser;
import io.stagewise.testkit.PaymentGenerator;
import io.stagewise.testkit.Sandbox;
import java.io.PrintWriter;
import java.io.Reader;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.common.metrics.KafkaMetric;
import org.apache.kafka.common.metrics.MetricsReporter;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.ParseResult;

/**
 * {@code --kafka-property} and {@code --kafka-properties FILE} reach the Kafka clients Flink
 * creates from the built sources and sinks, on a real broker: the pipeline's source consumer and
 * its output, DLQ and retry producers, and reconcile's source consumers and repair producer. Every
 * client instantiates the metric reporter the properties name and hands it its whole configuration,
 * which the reporter records; a marker from the properties file must be in each. The file's secret
 * is in no settings text or job parameter.
 */
class KafkaClientPropertiesITCase {
    @RegisterExtension
    static final Sandbox SANDBOX = new Sandbox();

    private static final String SECRET = "s3cr3t-never-shown";

    @TempDir
    Path tmp;

    /** Records the configuration of every Kafka client that instantiates it. */
    public static final class RecordingReporter implements MetricsReporter {
        static final Queue<Map<String, Object>> CONFIGS = new ConcurrentLinkedQueue<>();

        @Override
        public void configure(Map<String, ?> configs) {
            CONFIGS.add(new HashMap<>(configs));
        }

        @Override
        public void init(List<KafkaMetric> metrics) { }

        @Override
        public void metricChange(KafkaMetric metric) { }

        @Override
        public void metricRemoval(KafkaMetric metric) { }

        @Override
        public void close() { }
    }

    @BeforeEach
    void clear() {
        RecordingReporter.CONFIGS.clear();
    }

    private Path propertiesFile(String marker) throws Exception {
        Path file = tmp.resolve(marker + ".properties");
        Files.writeString(file, "metric.reporters=" + RecordingReporter.class.getName() + "\n"
                + "stagewise.test.marker=" + marker + "\nstagewise.test.secret=" + SECRET + "\n");
        return file;
    }

    private static boolean configured(String key, String valuePrefix, String marker) {
        return RecordingReporter.CONFIGS.stream().anyMatch(c -> String.valueOf(c.get(key)).startsWith(valuePrefix)
                && marker.equals(c.get("stagewise.test.marker")) && SECRET.equals(c.get("stagewise.test.secret")));
    }

    @Test
    void thePipelinesSourceAndSinksTakeTheProperties() throws Exception {
        String input = "kprops-pipeline";
        Topics.createAll(SANDBOX.kafka().bootstrapServers(), 1, List.of(input));
        PipelineFlags flags = new PipelineFlags();
        ParseResult parsed = new CommandLine(flags).setDefaultValueProvider(new FlagBindings()).parseArgs(
                "--bootstrap-servers", SANDBOX.kafka().bootstrapServers(), "--workflow", "dedup-only",
                "--input-topic", input, "--output-topic", input + ".completed",
                "--checkpoint-dir", tmp.resolve("checkpoints").toUri().toString(), "--checkpoint-interval", "1s",
                "--kafka-properties", propertiesFile("pipeline").toString(), "--kafka-property", "client.rack=rack-7");
        PipelineLaunch launch = PipelineLaunch.of(flags, parsed, false, new Configuration());
        PipelineSettings settings = launch.settings();
        assertThat(settings.toString()).doesNotContain(SECRET);
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(launch.effectiveConfiguration());
        env.setParallelism(1);
        PipelineJob.assemble(env, settings, Endpoints.production(settings, PipelineJob.prepareTopics(settings)));
        assertThat(env.getConfig().getGlobalJobParameters().toMap().toString()).doesNotContain(SECRET);
        JobClient job = env.executeAsync("kafka-properties");
        try {
            String prefix = settings.transactionalIdPrefix();
            await("the source's consumer and the three sinks' producers were configured with the properties")
                    .atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(200))
                    .until(() -> configured("group.id", settings.groupId(), "pipeline")
                            && configured("transactional.id", prefix + "-output", "pipeline")
                            && configured("transactional.id", prefix + "-dlq", "pipeline")
                            && configured("transactional.id", prefix + "-retry", "pipeline"));
            assertThat(RecordingReporter.CONFIGS).filteredOn(c -> settings.groupId().equals(c.get("group.id")))
                    .allMatch(c -> "rack-7".equals(c.get("client.rack")), "the --kafka-property reached the consumer too");
        } finally {
            job.cancel().get(30, TimeUnit.SECONDS);
        }
    }

    @Test
    void theAuditsConsumersTakeTheProperties() throws Exception {
        String input = "kprops-audit";
        Topics.createAll(SANDBOX.kafka().bootstrapServers(), 1, List.of(input, input + ".completed", Topics.dlq(input)));
        Properties props = new Properties();
        try (Reader in = Files.newBufferedReader(propertiesFile("audit"))) {
            props.load(in);
        }
        Audit.Topics topics = new Audit.Topics(SANDBOX.kafka().bootstrapServers(), input, input + ".completed", Topics.dlq(input), props);
        assertThat(topics.toString()).doesNotContain(SECRET);
        Audit.run(topics, EventParser.DEFAULT_MAX_EVENT_BYTES, Optional.empty());
        assertThat(RecordingReporter.CONFIGS).as("one consumer per topic read: input, output, DLQ")
                .filteredOn(c -> "audit".equals(c.get("stagewise.test.marker")) && SECRET.equals(c.get("stagewise.test.secret")))
                .hasSizeGreaterThanOrEqualTo(3);
    }

    /** The flags of {@code stagewise reconcile}, as its command mixes them in. */
    @CommandLine.Command(name = "reconcile")
    static final class Reconcile {
        @Mixin
        ReconcileFlags flags;
    }

    @Test
    void reconcilesSourcesAndRepairProducerTakeTheProperties() throws Exception {
        String input = "kprops-reconcile";
        Topics.createAll(SANDBOX.kafka().bootstrapServers(), 1, List.of(input, input + ".completed", Topics.dlq(input)));
        // One payment the pipeline never saw: MISSING, so --repair writes it back.
        PaymentGenerator.send(PaymentGenerator.plan(new PaymentGenerator.Settings(1, 0.0, 0.0, 7, 1)).records(),
                SANDBOX.kafka().bootstrapServers(), input, 0, n -> { });
        Reconcile command = new Reconcile();
        new CommandLine(command).parseArgs("--bootstrap-servers", SANDBOX.kafka().bootstrapServers(), "--input-topic", input,
                "--output-topic", input + ".completed", "--settle", "1ms", "--parallelism", "1", "--repair",
                "--kafka-properties", propertiesFile("reconcile").toString());
        StringWriter out = new StringWriter();
        int exit = command.flags.execute(new PrintWriter(out, true));
        assertThat(exit).as(out.toString()).isEqualTo(1);
        assertThat(out.toString()).contains("MISSING").contains("re-injected 1").doesNotContain(SECRET);
        for (String topic : List.of(input, input + ".completed", Topics.dlq(input))) {
            assertThat(configured("group.id", "stagewise-reconcile-" + topic, "reconcile")).as(topic).isTrue();
        }
        assertThat(configured("transactional.id", "stagewise-repair-" + input, "reconcile")).isTrue();
    }
}
