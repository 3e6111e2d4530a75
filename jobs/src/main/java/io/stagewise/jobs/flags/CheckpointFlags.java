package io.stagewise.jobs.flags;

import java.time.Duration;
import org.apache.flink.annotation.PublicEvolving;
import picocli.CommandLine.Option;

/**
 * Flink's own settings as flags: each is applied only when given, so without it the Flink
 * configuration ({@code flink run -p}, {@code -D}, config.yaml) or else Stagewise's default holds.
 */
@PublicEvolving
public final class CheckpointFlags {
    @Option(names = "--checkpoint-dir", paramLabel = "DIR|URI", converter = CheckpointUriConverter.class,
            description = "Where checkpoints are written and retained: a Flink filesystem URI (s3://, hdfs://, file://) "
                    + "or a local directory (default: execution.checkpointing.dir of the Flink configuration, else "
                    + ".stagewise/checkpoints for a local run).")
    public String checkpointDir;

    @Option(names = "--checkpoint-interval", converter = DurationConverter.class,
            description = "Checkpoint interval, e.g. 500ms, 10s, 1min (default: execution.checkpointing.interval of the "
                    + "Flink configuration, else 10s). Output becomes visible to read_committed consumers at each checkpoint.")
    public Duration checkpointInterval;

    @Option(names = "--parallelism", description = "Parallelism (default: parallelism.default or flink run -p; 2 for a local run).")
    public Integer parallelism;
}
