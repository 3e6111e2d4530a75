package io.stagewise.cli;

import io.stagewise.bench.LatencyBenchmark;
import io.stagewise.jobs.StagewiseException;
import io.stagewise.jobs.flags.DurationConverter;
import io.stagewise.testkit.Directories;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code stagewise bench latency}: {@link LatencyBenchmark}. */
@Command(name = "latency", mixinStandardHelpOptions = true,
        description = "End-to-end latency of the pipeline (dedup-only, exactly-once output): p50/p99 from an input"
                + " record's timestamp to its output record received read_committed, at each checkpoint interval, at a"
                + " steady input rate of half the measured maximum and under a backlog; throughput at each; next to"
                + " the pipeline's own stagewise.sink.output.endToEndLatencyMs histogram. One broker, one process, one table.")
public final class BenchLatencyCommand implements Callable<Integer> {
    @Option(names = "--intervals", split = ",", defaultValue = "200ms,1s,5s", paramLabel = "DURATION",
            converter = DurationConverter.class, description = "Checkpoint intervals (default: ${DEFAULT-VALUE}).")
    List<Duration> intervals = new ArrayList<>();

    @Option(names = "--parallelism", defaultValue = "2", description = "Parallelism of the job (default: ${DEFAULT-VALUE}).")
    int parallelism;

    @Option(names = "--max-events", defaultValue = "100000",
            description = "Records of the bounded run that measures the maximum rate (default: ${DEFAULT-VALUE}).")
    int maxEvents;

    @Option(names = "--warmup", defaultValue = "10s", converter = DurationConverter.class,
            description = "Steady load before measuring: the job starts meanwhile (default: ${DEFAULT-VALUE}).")
    Duration warmup;

    @Option(names = "--measure", defaultValue = "30s", converter = DurationConverter.class,
            description = "Steady load measured, per interval (default: ${DEFAULT-VALUE}).")
    Duration measure;

    @Option(names = "--backlog", defaultValue = "100000",
            description = "Records written before the job starts, per interval (default: ${DEFAULT-VALUE}).")
    int backlog;

    @Mixin
    InputFlags input = new InputFlags();

    @Override
    public Integer call() throws Exception {
        if (intervals.isEmpty() || parallelism < 1 || maxEvents < 1 || backlog < 1 || measure.isZero()) {
            throw new StagewiseException("--intervals must name at least one interval; --parallelism, --max-events and"
                    + " --backlog must be >= 1; --measure must be > 0");
        }
        Path dir = Files.createTempDirectory("stagewise-bench-latency-");
        try {
            LatencyBenchmark.run(new LatencyBenchmark.Settings(intervals, parallelism, maxEvents, warmup, measure, backlog,
                    input.accounts, input.seed), dir, System.out);
            return 0;
        } finally {
            Directories.deleteRecursively(dir);
        }
    }
}
