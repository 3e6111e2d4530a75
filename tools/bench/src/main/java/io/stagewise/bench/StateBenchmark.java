package io.stagewise.bench;

import io.stagewise.operators.stage.StageOperator;
import io.stagewise.operators.stage.Workflow;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.runtime.checkpoint.Checkpoints;
import org.apache.flink.runtime.checkpoint.OperatorState;
import org.apache.flink.runtime.checkpoint.metadata.CheckpointMetadata;
import org.apache.flink.runtime.jobgraph.OperatorID;
import org.apache.flink.state.api.OperatorIdentifier;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;

/**
 * Checkpoint bytes per remembered event id: the dedup-only pipeline reads {@code ids} distinct ids
 * (no duplicates, no malformed records) and runs on until a checkpoint holds all of them, once with
 * full and once with incremental RocksDB checkpoints. The size is read from that checkpoint's own
 * metadata ({@code _metadata}: every operator's state handles), for the whole job and for the stage
 * operator ({@link StageOperator#UID}, which holds the dedup entries). "Holds all of them": the job's
 * committed source offsets reached the end of the input (a checkpoint completed after every record
 * was read), then two more checkpoints completed (so records that were still in flight in an
 * unaligned checkpoint's channel state are in keyed state).
 */
public final class StateBenchmark {
    private static final Pattern CHECKPOINT_DIR = Pattern.compile("chk-(\\d+)");
    private static final Duration PATIENCE = Duration.ofMinutes(30);

    /** One measured checkpoint. */
    public record Result(String mode, long ids, long checkpointId, long jobStateBytes, long stageStateBytes,
                         long checkpointedBytes) {
        public double bytesPerId() {
            return (double) stageStateBytes / ids;
        }
    }

    private final String bootstrap;
    private final String input;
    private final int parallelism;
    private final Duration checkpointInterval;
    private final Path dir;

    public StateBenchmark(String bootstrap, String input, int parallelism, Duration checkpointInterval, Path dir) {
        this.bootstrap = bootstrap;
        this.input = input;
        this.parallelism = parallelism;
        this.checkpointInterval = checkpointInterval;
        this.dir = dir;
    }

    /** Runs the pipeline over the input (holding {@code ids} distinct ids) with full or incremental checkpoints. */
    public Result measure(boolean incremental, long ids) throws Exception {
        String mode = incremental ? "incremental" : "full";
        Path checkpoints = dir.resolve(mode);
        PipelineBenchmark bench = new PipelineBenchmark(bootstrap, input, parallelism, checkpointInterval, checkpoints);
        Configuration options = new Configuration();
        options.set(CheckpointingOptions.INCREMENTAL_CHECKPOINTS, incremental);
        String name = "bench-state-" + mode;
        PipelineBenchmark.Job job = bench.pipelineJob(name, input, Workflow.named("dedup-only").build(), parallelism, options);
        JobClient client = job.env().executeAsync(name);
        try {
            Path jobDir = checkpoints.resolve(name);
            awaitInputCommitted(name);
            long caughtUp = latestCheckpoint(jobDir).map(CheckpointDir::id).orElse(0L);
            CheckpointDir holding = awaitCheckpoint(jobDir, caughtUp + 2);
            return result(mode, ids, holding);
        } finally {
            client.cancel().get(2, TimeUnit.MINUTES);
        }
    }

    record CheckpointDir(long id, Path path) {}

    private void awaitInputCommitted(String groupId) throws Exception {
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        long deadline = System.nanoTime() + PATIENCE.toNanos();
        try (Admin admin = Admin.create(props)) {
            List<TopicPartition> partitions = admin.describeTopics(List.of(input)).allTopicNames().get().get(input)
                    .partitions().stream().map(p -> new TopicPartition(input, p.partition())).collect(Collectors.toList());
            Map<TopicPartition, Long> ends = admin.listOffsets(partitions.stream()
                            .collect(Collectors.toMap(p -> p, p -> OffsetSpec.latest()))).all().get()
                    .entrySet().stream().collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().offset()));
            while (true) {
                Map<TopicPartition, OffsetAndMetadata> committed =
                        admin.listConsumerGroupOffsets(groupId).partitionsToOffsetAndMetadata().get();
                boolean all = ends.entrySet().stream().allMatch(e -> {
                    OffsetAndMetadata c = committed.get(e.getKey());
                    return c != null && c.offset() >= e.getValue();
                });
                if (all) {
                    return;
                }
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("job " + groupId + " did not commit the end of " + input + " within "
                            + PATIENCE + ": committed " + committed + ", ends " + ends);
                }
                TimeUnit.MILLISECONDS.sleep(200); // polling an external system: nothing to await on
            }
        }
    }

    private CheckpointDir awaitCheckpoint(Path jobDir, long atLeast) throws Exception {
        long deadline = System.nanoTime() + PATIENCE.toNanos();
        while (true) {
            Optional<CheckpointDir> latest = latestCheckpoint(jobDir);
            if (latest.isPresent() && latest.get().id() >= atLeast) {
                return latest.get();
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("no checkpoint " + atLeast + " under " + jobDir + " within " + PATIENCE);
            }
            TimeUnit.MILLISECONDS.sleep(100); // polling the checkpoint directory
        }
    }

    /** The newest complete checkpoint ({@code chk-n} with its {@code _metadata}) under {@code <jobDir>/<job id>/}. */
    static Optional<CheckpointDir> latestCheckpoint(Path jobDir) throws IOException {
        if (!Files.isDirectory(jobDir)) {
            return Optional.empty();
        }
        try (Stream<Path> jobs = Files.list(jobDir)) {
            return jobs.filter(Files::isDirectory).flatMap(job -> {
                try (Stream<Path> chks = Files.list(job)) {
                    return chks.collect(Collectors.toList()).stream();
                } catch (IOException e) {
                    return Stream.empty();
                }
            }).map(p -> {
                Matcher m = CHECKPOINT_DIR.matcher(p.getFileName().toString());
                return m.matches() && Files.exists(p.resolve("_metadata"))
                        ? Optional.of(new CheckpointDir(Long.parseLong(m.group(1)), p)) : Optional.<CheckpointDir>empty();
            }).flatMap(Optional::stream).max(Comparator.comparingLong(CheckpointDir::id));
        }
    }

    private static Result result(String mode, long ids, CheckpointDir chk) throws IOException {
        CheckpointMetadata metadata;
        try (InputStream in = Files.newInputStream(chk.path().resolve("_metadata"))) {
            metadata = Checkpoints.loadCheckpointMetadata(new DataInputStream(in), StateBenchmark.class.getClassLoader(),
                    chk.path().toString());
        }
        OperatorID stage = OperatorIdentifier.forUid(StageOperator.UID).getOperatorId();
        long job = 0;
        long stageBytes = 0;
        long checkpointed = 0;
        for (OperatorState state : metadata.getOperatorStates()) {
            job += state.getStateSize();
            checkpointed += state.getCheckpointedSize();
            if (state.getOperatorID().equals(stage)) {
                stageBytes = state.getStateSize();
            }
        }
        return new Result(mode, ids, chk.id(), job, stageBytes, checkpointed);
    }

    /** Prints the table of {@code results}. */
    public static void print(List<Result> results, PrintStream out) {
        out.printf("%n| checkpoints | ids | checkpoint | job state bytes | stage operator bytes | bytes per id | persisted by this checkpoint |%n");
        out.printf("|---|---|---|---|---|---|---|%n");
        for (Result r : results) {
            out.printf("| %s | %,d | %d | %,d | %,d | %.1f | %,d |%n", r.mode(), r.ids(), r.checkpointId(), r.jobStateBytes(),
                    r.stageStateBytes(), r.bytesPerId(), r.checkpointedBytes());
        }
    }
}
