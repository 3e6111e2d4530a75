package io.stagewise.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.stagewise.jobs.Endpoints;
import io.stagewise.jobs.FlinkSettings;
import io.stagewise.jobs.PipelineJob;
import io.stagewise.jobs.PipelineSettings;
import io.stagewise.jobs.PipelineTestSupport;
import io.stagewise.jobs.StagewiseOptions;
import io.stagewise.jobs.Topics;
import io.stagewise.jobs.audit.TopicReader;
import io.stagewise.jobs.local.FlinkRest;
import io.stagewise.jobs.local.LocalFlink;
import io.stagewise.operators.event.StagewiseHeaders;
import io.stagewise.savepoints.Checkpoints;
import io.stagewise.testkit.EmbeddedKafka;
import io.stagewise.testkit.FreePorts;
import io.stagewise.testkit.PaymentGenerator;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.StateRecoveryOptions;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.core.fs.FileSystem;
import org.apache.flink.core.plugin.PluginUtils;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.eclipse.jetty.util.component.AbstractLifeCycle;
import org.gaul.s3proxy.AuthenticationType;
import org.gaul.s3proxy.S3Proxy;
import org.jclouds.ContextBuilder;
import org.jclouds.blobstore.BlobStore;
import org.jclouds.blobstore.BlobStoreContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Checkpoints on S3, through Flink's own S3 filesystem ({@code flink-s3-fs-hadoop}, loaded as a
 * plugin from {@code FLINK_PLUGINS_DIR} as on a cluster) against a real
 * S3 protocol server in process (S3Proxy over an in-memory store): the pipeline checkpoints to an
 * {@code s3://} URI, {@code --restore latest} finds the newest retained checkpoint by listing the
 * bucket through Flink's {@code FileSystem} API, and the restored job keeps its dedup memory and
 * its source offsets: every id in the output exactly once.
 */
class S3CheckpointsITCase {
    private static final String BUCKET = "stagewise";
    private static final String CHECKPOINTS = "s3://" + BUCKET + "/checkpoints";
    private static final String ACCESS_KEY = "stagewise-access";
    private static final String SECRET_KEY = "stagewise-secret";
    private static final int REMEMBERED_RESENT = 20;
    private static final Duration PATIENCE = Duration.ofMinutes(3);

    @TempDir
    Path tmp;

    private S3Proxy s3;
    private URI endpoint;
    private BlobStoreContext store;

    @BeforeEach
    void startS3() throws Exception {
        Properties overrides = new Properties();
        store = ContextBuilder.newBuilder("transient").credentials(ACCESS_KEY, SECRET_KEY).overrides(overrides)
                .build(BlobStoreContext.class);
        BlobStore blobs = store.getBlobStore();
        blobs.createContainerInLocation(null, BUCKET);
        endpoint = URI.create("http://127.0.0.1:" + FreePorts.pick());
        s3 = S3Proxy.builder().blobStore(blobs).endpoint(endpoint)
                .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, ACCESS_KEY, SECRET_KEY).build();
        s3.start();
        await("S3 server started").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(50))
                .until(() -> AbstractLifeCycle.STARTED.equals(s3.getState()));
        // The client side (Checkpoints.latest) and the mini cluster read the same s3.* keys, as a cluster's config.yaml gives them.
        Configuration conf = s3Configuration();
        FileSystem.initialize(conf, PluginUtils.createPluginManagerFromRootFolder(conf));
    }

    @AfterEach
    void stopS3() throws Exception {
        FileSystem.initialize(new Configuration(), null);
        if (s3 != null) {
            s3.stop();
        }
        if (store != null) {
            store.close();
        }
    }

    @Test
    void checkpointsToS3AndRestoresTheLatestFoundThere() throws Exception {
        PaymentGenerator.Plan first = PaymentGenerator.plan(new PaymentGenerator.Settings(200, 0.05, 0.0, 41, 10));
        PaymentGenerator.Plan second = PaymentGenerator.plan(new PaymentGenerator.Settings(50, 0.0, 0.0, 42, 10));
        try (EmbeddedKafka kafka = EmbeddedKafka.start(tmp.resolve("kafka"))) {
            String bootstrap = kafka.bootstrapServers();
            Topics.createAll(bootstrap, 2, List.of(PipelineTestSupport.INPUT));
            PaymentGenerator.send(first, bootstrap, PipelineTestSupport.INPUT, 0, n -> { });

            Running run1 = start(bootstrap, null);
            try {
                await("the first input in the output").atMost(PATIENCE).pollInterval(Duration.ofMillis(500))
                        .until(() -> outputIds(bootstrap).size() >= first.validIds().size());
                long seen = run1.rest.latestCheckpoint().map(c -> c[0]).orElse(0L);
                await("a checkpoint after the output").atMost(PATIENCE)
                        .until(() -> run1.rest.latestCheckpoint().map(c -> c[0]).orElse(0L) > seen);
            } finally {
                run1.client.cancel().get(60, TimeUnit.SECONDS);
            }

            Optional<Checkpoints.Retained> latest = Checkpoints.latest(CHECKPOINTS);
            assertThat(latest).as("a retained checkpoint listed in %s", CHECKPOINTS).isPresent();
            assertThat(latest.get().location()).startsWith("s3://" + BUCKET + "/checkpoints/");

            Running run2 = start(bootstrap, latest.get().location());
            try {
                PaymentGenerator.send(first.records().subList(0, REMEMBERED_RESENT), bootstrap,
                        PipelineTestSupport.INPUT, 0, n -> { });
                await("re-sent ids dropped by the restored dedup memory").atMost(PATIENCE)
                        .pollInterval(Duration.ofMillis(500))
                        .until(() -> run2.rest.stagewiseMetric("duplicatesDropped") >= REMEMBERED_RESENT);
                PaymentGenerator.send(second, bootstrap, PipelineTestSupport.INPUT, 0, n -> { });
                Set<String> all = new HashSet<>(first.validIds());
                all.addAll(second.validIds());
                await("the second input in the output").atMost(PATIENCE).pollInterval(Duration.ofMillis(500))
                        .until(() -> outputIds(bootstrap).size() >= all.size());
            } finally {
                run2.client.cancel().get(60, TimeUnit.SECONDS);
            }

            List<ConsumerRecord<byte[], byte[]>> output =
                    TopicReader.readAll(bootstrap, PipelineTestSupport.OUTPUT, Duration.ofSeconds(30));
            Set<String> expected = new HashSet<>(first.validIds());
            expected.addAll(second.validIds());
            assertThat(output).as("one output record per id across the restore").hasSize(expected.size());
            assertThat(outputIds(bootstrap)).containsExactlyInAnyOrderElementsOf(expected);
        }
    }

    private Configuration s3Configuration() {
        Configuration conf = new Configuration();
        conf.setString("s3.endpoint", endpoint.toString());
        conf.setString("s3.path.style.access", "true");
        conf.setString("s3.access-key", ACCESS_KEY);
        conf.setString("s3.secret-key", SECRET_KEY);
        return conf;
    }

    private record Running(JobClient client, FlinkRest rest) {}

    private Running start(String bootstrap, String restoreFrom) throws Exception {
        Configuration conf = FlinkSettings.localDefaults();
        conf.set(CheckpointingOptions.CHECKPOINTING_INTERVAL, Duration.ofMillis(500));
        conf.set(CheckpointingOptions.CHECKPOINTS_DIRECTORY, FlinkSettings.checkpointUri(CHECKPOINTS));
        conf.addAll(s3Configuration());
        conf.set(StagewiseOptions.BOOTSTRAP_SERVERS, bootstrap);
        conf.set(StagewiseOptions.INPUT_TOPIC, PipelineTestSupport.INPUT);
        conf.set(StagewiseOptions.OUTPUT_TOPIC, PipelineTestSupport.OUTPUT);
        conf.set(StagewiseOptions.WORKFLOW, StagewiseOptions.WorkflowName.DEDUP_ONLY);
        if (restoreFrom != null) {
            conf.set(StateRecoveryOptions.SAVEPOINT_PATH, restoreFrom);
        }
        PipelineSettings settings = PipelineSettings.from(conf);
        Topics.Layout layout = PipelineJob.prepareTopics(settings);
        int port = FreePorts.pick();
        StreamExecutionEnvironment env = LocalFlink.withDashboard(conf, port);
        env.setParallelism(2);
        PipelineJob.assemble(env, settings, Endpoints.production(settings, layout));
        JobClient client = env.executeAsync("stagewise on s3 checkpoints");
        return new Running(client, new FlinkRest(LocalFlink.dashboardUrl(port), client.getJobID()));
    }

    private static Set<String> outputIds(String bootstrap) {
        return TopicReader.readAll(bootstrap, PipelineTestSupport.OUTPUT, Duration.ofSeconds(30)).stream()
                .map(r -> r.headers().lastHeader(StagewiseHeaders.EVENT_ID))
                .map(h -> new String(h.value(), StandardCharsets.UTF_8))
                .collect(Collectors.toCollection(HashSet::new));
    }
}
