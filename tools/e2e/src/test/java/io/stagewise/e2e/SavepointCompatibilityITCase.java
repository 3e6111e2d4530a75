package io.stagewise.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.stagewise.jobs.FlinkSettings;
import io.stagewise.jobs.PipelineJob;
import io.stagewise.jobs.Endpoints;
import io.stagewise.jobs.PipelineSettings;
import io.stagewise.jobs.PipelineTestSupport;
import io.stagewise.jobs.StagewiseOptions;
import io.stagewise.jobs.Topics;
import io.stagewise.jobs.audit.TopicReader;
import io.stagewise.jobs.local.FlinkRest;
import io.stagewise.jobs.local.LocalFlink;
import io.stagewise.operators.event.StagewiseHeaders;
import io.stagewise.testkit.Directories;
import io.stagewise.testkit.EmbeddedKafka;
import io.stagewise.testkit.FreePorts;
import io.stagewise.testkit.PaymentGenerator;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.StateRecoveryOptions;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.runtime.util.EnvironmentInformation;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The state compatibility guard: savepoints made by released versions of the pipeline, committed
 * under {@code savepoints/src/test/resources/compat/<version>-dedup-only/}, must restore with this
 * build and behave: the ids they remember are still dropped as duplicates, and new ids flow.
 *
 * <p>Each committed savepoint was taken (stop-with-savepoint, canonical format) from the pipeline
 * ({@code --workflow dedup-only}, parallelism 2) after it read a generated input of
 * {@code savepoint.properties}' {@code events} payments (seed {@code seed}, 5% duplicates, no
 * malformed records, so every record's partition follows from its key) from topic {@code payments}
 * with {@code partitions} partitions. The test writes that same input into a fresh broker first, so
 * the source offsets in the savepoint point at the end of it, then restores.
 *
 * <p>Regenerate (only when a break is intended; see savepoints/README.md):
 * {@code mvn -B -o -pl tools/e2e -am verify -Dtest=SavepointCompatibilityITCase
 * -Dsurefire.failIfNoSpecifiedTests=false -Dstagewise.regenerate-savepoint=true}.
 */
class SavepointCompatibilityITCase {
    static final String REGENERATE_PROPERTY = "stagewise.regenerate-savepoint";
    private static final String INPUT = PipelineTestSupport.INPUT;
    private static final String WORKFLOW = "dedup-only";
    private static final int PARTITIONS = 2;
    private static final int PARALLELISM = 2;
    private static final int EVENTS = 300;
    private static final long SEED = 2026;
    private static final int REMEMBERED_RESENT = 30;
    private static final int NEW_EVENTS = 20;
    private static final Duration PATIENCE = Duration.ofMinutes(3);

    @TempDir
    Path tmp;

    @Test
    void committedSavepointsRestoreAndRememberTheirIds() throws Exception {
        if (Boolean.getBoolean(REGENERATE_PROPERTY)) {
            regenerate();
        }
        List<Path> committed = committedSavepoints();
        assertThat(committed).as("committed savepoints under %s", compatDir()).isNotEmpty();
        for (Path savepoint : committed) {
            try {
                restoreAndCheck(savepoint);
            } catch (Exception | AssertionError e) {
                throw new AssertionError(whatToDo(savepoint, e), e);
            }
        }
    }

    private void restoreAndCheck(Path dir) throws Exception {
        Properties made = new Properties();
        try (InputStream in = Files.newInputStream(dir.resolve("savepoint.properties"))) {
            made.load(in);
        }
        PaymentGenerator.Plan original = PaymentGenerator.plan(settings(Integer.parseInt(made.getProperty("events")),
                0.05, Long.parseLong(made.getProperty("seed"))));
        PaymentGenerator.Plan fresh = PaymentGenerator.plan(settings(NEW_EVENTS, 0.0, SEED + 1));
        try (EmbeddedKafka kafka = EmbeddedKafka.start(tmp.resolve("kafka-" + dir.getFileName()))) {
            String bootstrap = kafka.bootstrapServers();
            Topics.createAll(bootstrap, Integer.parseInt(made.getProperty("partitions")), List.of(INPUT));
            // The same input at the same offsets: the restored source continues after it.
            PaymentGenerator.send(original, bootstrap, INPUT, 0, n -> { });

            Running job = start(bootstrap, dir.resolve("savepoint").toString());
            try {
                List<PaymentGenerator.Record> remembered = original.records().subList(0, REMEMBERED_RESENT);
                PaymentGenerator.send(remembered, bootstrap, INPUT, 0, n -> { });
                await("the re-sent remembered ids dropped as duplicates").atMost(PATIENCE).pollInterval(Duration.ofMillis(500))
                        .until(() -> job.rest.stagewiseMetric("duplicatesDropped") >= REMEMBERED_RESENT);
                PaymentGenerator.send(fresh, bootstrap, INPUT, 0, n -> { });
                await("the new ids in the output").atMost(PATIENCE).pollInterval(Duration.ofMillis(500))
                        .until(() -> outputIds(bootstrap).size() >= NEW_EVENTS);
                long seen = job.rest.latestCheckpoint().map(c -> c[0]).orElse(0L);
                await("one more checkpoint").atMost(PATIENCE).until(() -> job.rest.latestCheckpoint().map(c -> c[0]).orElse(0L) > seen);
            } finally {
                job.client.cancel().get(60, TimeUnit.SECONDS);
            }
            assertThat(outputIds(bootstrap)).as("output after the restore: only the new ids, none of the remembered ones")
                    .containsExactlyInAnyOrderElementsOf(fresh.validIds());
            assertThat(TopicReader.readAll(bootstrap, PipelineTestSupport.OUTPUT, Duration.ofSeconds(30)))
                    .as("one output record per new id").hasSize(NEW_EVENTS);
        }
    }

    /** Runs the pipeline on {@link #EVENTS} generated payments and commits its savepoint for this version. */
    private void regenerate() throws Exception {
        Path target = compatDir().resolve(System.getProperty("stagewise.version", "dev") + "-" + WORKFLOW);
        PaymentGenerator.Plan plan = PaymentGenerator.plan(settings(EVENTS, 0.05, SEED));
        try (EmbeddedKafka kafka = EmbeddedKafka.start(tmp.resolve("kafka-generate"))) {
            String bootstrap = kafka.bootstrapServers();
            Topics.createAll(bootstrap, PARTITIONS, List.of(INPUT));
            PaymentGenerator.send(plan, bootstrap, INPUT, 0, n -> { });
            Running job = start(bootstrap, null);
            String savepoint;
            try {
                await("every generated id in the output").atMost(PATIENCE).pollInterval(Duration.ofMillis(500))
                        .until(() -> outputIds(bootstrap).size() >= plan.validIds().size());
                savepoint = job.client.stopWithSavepoint(false, tmp.resolve("savepoints").toUri().toString(),
                        SavepointFormatType.CANONICAL).get(2, TimeUnit.MINUTES);
            } catch (Exception e) {
                job.client.cancel().get(60, TimeUnit.SECONDS);
                throw e;
            }
            if (Files.exists(target)) {
                Directories.deleteRecursively(target);
            }
            copy(Path.of(URI.create(savepoint)), Files.createDirectories(target).resolve("savepoint"));
            Properties made = new Properties();
            made.setProperty("events", Integer.toString(EVENTS));
            made.setProperty("seed", Long.toString(SEED));
            made.setProperty("partitions", Integer.toString(PARTITIONS));
            made.setProperty("parallelism", Integer.toString(PARALLELISM));
            made.setProperty("workflow", WORKFLOW);
            made.setProperty("stagewise.version", System.getProperty("stagewise.version", "dev"));
            made.setProperty("flink.version", EnvironmentInformation.getVersion());
            made.setProperty("made", Instant.now().toString());
            try (OutputStream out = Files.newOutputStream(target.resolve("savepoint.properties"))) {
                made.store(out, "Made by SavepointCompatibilityITCase -D" + REGENERATE_PROPERTY + "=true; see savepoints/README.md");
            }
        }
    }

    private record Running(JobClient client, FlinkRest rest) {}

    private Running start(String bootstrap, String savepoint) throws Exception {
        Configuration conf = FlinkSettings.defaults(Duration.ofMillis(500), tmp.resolve("checkpoints"));
        conf.set(StagewiseOptions.BOOTSTRAP_SERVERS, bootstrap);
        conf.set(StagewiseOptions.INPUT_TOPIC, INPUT);
        conf.set(StagewiseOptions.OUTPUT_TOPIC, PipelineTestSupport.OUTPUT);
        conf.set(StagewiseOptions.WORKFLOW, StagewiseOptions.WorkflowName.DEDUP_ONLY);
        if (savepoint != null) {
            conf.set(StateRecoveryOptions.SAVEPOINT_PATH, savepoint);
        }
        PipelineSettings settings = PipelineSettings.from(conf);
        Topics.Layout layout = PipelineJob.prepareTopics(settings);
        int port = FreePorts.pick();
        StreamExecutionEnvironment env = LocalFlink.withDashboard(conf, port);
        env.setParallelism(PARALLELISM);
        PipelineJob.assemble(env, settings, Endpoints.production(settings, layout));
        JobClient client = env.executeAsync("stagewise savepoint compatibility");
        return new Running(client, new FlinkRest(LocalFlink.dashboardUrl(port), client.getJobID()));
    }

    private static PaymentGenerator.Settings settings(int events, double duplicateRate, long seed) {
        // No malformed records: they carry no key, so their partition (and every later offset) would be random.
        return new PaymentGenerator.Settings(events, duplicateRate, 0.0, seed, 10);
    }

    private static Set<String> outputIds(String bootstrap) {
        return TopicReader.readAll(bootstrap, PipelineTestSupport.OUTPUT, Duration.ofSeconds(30)).stream()
                .map(r -> r.headers().lastHeader(StagewiseHeaders.EVENT_ID))
                .map(h -> new String(h.value(), StandardCharsets.UTF_8))
                .collect(Collectors.toCollection(HashSet::new));
    }

    static Path compatDir() {
        return Path.of(System.getProperty("stagewise.compat.dir", "../../savepoints/src/test/resources/compat"));
    }

    private static List<Path> committedSavepoints() throws IOException {
        if (!Files.isDirectory(compatDir())) {
            return List.of();
        }
        try (Stream<Path> dirs = Files.list(compatDir())) {
            return dirs.filter(d -> Files.exists(d.resolve("savepoint.properties"))).sorted().collect(Collectors.toList());
        }
    }

    private static String whatToDo(Path savepoint, Throwable cause) {
        return "The committed savepoint " + savepoint.getFileName() + " (savepoints/src/test/resources/compat/) no longer "
                + "restores or no longer behaves with this build: " + cause.getMessage() + "\n"
                + "Jobs in production hold state like it: this change would lose their dedup memory, waiting retries or "
                + "in-flight stages on upgrade. Keep operator uids and state names; if a state type changed, write a "
                + "migration (a new serializer version that still reads the old one, see savepoints/README.md). Only if "
                + "the break is intended and released as such, regenerate with\n  mvn -B -o -pl tools/e2e -am verify "
                + "-Dtest=SavepointCompatibilityITCase -Dsurefire.failIfNoSpecifiedTests=false -D" + REGENERATE_PROPERTY
                + "=true\nkeep the old savepoint's directory unless it can no longer be supported, and explain the break "
                + "in the commit message and the release notes.";
    }

    private static void copy(Path from, Path to) throws IOException {
        List<Path> files;
        try (Stream<Path> walk = Files.walk(from)) {
            files = walk.collect(Collectors.toCollection(ArrayList::new));
        }
        for (Path file : files) {
            Path target = to.resolve(from.relativize(file).toString());
            if (Files.isDirectory(file)) {
                Files.createDirectories(target);
            } else {
                Files.copy(file, target);
            }
        }
    }
}
