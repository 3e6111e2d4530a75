package io.stagewise.jobs;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.CoreOptions;
import org.apache.flink.configuration.ExternalizedCheckpointRetention;
import org.apache.flink.configuration.PipelineOptions;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.core.execution.CheckpointingMode;

/**
 * The Flink settings Stagewise jobs run with, and how they meet the Flink configuration.
 * {@code flink-conf/config.yaml} holds the same values for a cluster.
 *
 * <p>Precedence (docs/operations.md): an explicit flag wins; otherwise the Flink configuration
 * ({@code -D}, config.yaml, the environment's configuration); otherwise Stagewise's default. A job
 * on a cluster therefore sets parallelism or the checkpoint interval only when a flag says so:
 * Flink's {@code StreamContextEnvironment} layers the job's own configuration over the cluster's,
 * so a value the job always set would silently override {@code flink run -p} and config.yaml.
 */
@PublicEvolving
public final class FlinkSettings {
    public static final Duration DEFAULT_CHECKPOINT_INTERVAL = Duration.ofSeconds(10);
    /**
     * Well below the default Kafka transaction timeout (10 min): a checkpoint that cannot finish in
     * time fails and is retried, instead of outliving the transactions it would commit.
     */
    public static final Duration DEFAULT_CHECKPOINT_TIMEOUT = Duration.ofMinutes(2);
    /** Parallelism of local runs ({@code stagewise run}, demo) unless a flag or the configuration sets one. */
    public static final int DEFAULT_LOCAL_PARALLELISM = 2;
    public static final int RETAINED_CHECKPOINTS = 3;
    public static final Duration MAX_RESTART_DELAY = Duration.ofSeconds(30);
    public static final int TOLERABLE_FAILED_CHECKPOINTS = 3;
    /** The permanent ceiling for rescaling (key groups); Flink's own default for small parallelism. */
    public static final int MAX_PARALLELISM = 128;

    private FlinkSettings() {}

    /**
     * RocksDB with incremental checkpoints, exactly-once barriers at {@code interval}, checkpoints
     * retained on cancellation in {@code checkpointDir}, exponential-delay restarts, and no Kryo
     * fallback for any type.
     */
    public static Configuration defaults(Duration interval, Path checkpointDir) {
        Configuration conf = localDefaults();
        conf.set(CheckpointingOptions.CHECKPOINTING_INTERVAL, interval);
        conf.set(CheckpointingOptions.CHECKPOINTS_DIRECTORY, checkpointUri(checkpointDir.toString()));
        return conf;
    }

    /**
     * Stagewise's defaults for a job in a Flink it starts itself (a mini cluster): everything of
     * {@link #defaults(Duration, Path)} but the checkpoint directory, plus parallelism 2.
     */
    public static Configuration localDefaults() {
        Configuration conf = clusterDefaults();
        conf.set(StateBackendOptions.STATE_BACKEND, "rocksdb");
        conf.set(CheckpointingOptions.INCREMENTAL_CHECKPOINTS, true);
        conf.set(CheckpointingOptions.CHECKPOINTING_CONSISTENCY_MODE, CheckpointingMode.EXACTLY_ONCE);
        // Barriers overtake records queued under backpressure, so checkpoints finish while a backlog drains (README, Checkpoint interval).
        conf.set(CheckpointingOptions.ENABLE_UNALIGNED, true);
        conf.set(CheckpointingOptions.EXTERNALIZED_CHECKPOINT_RETENTION,
                ExternalizedCheckpointRetention.RETAIN_ON_CANCELLATION);
        conf.set(CheckpointingOptions.MAX_RETAINED_CHECKPOINTS, RETAINED_CHECKPOINTS);
        conf.set(RestartStrategyOptions.RESTART_STRATEGY, "exponential-delay");
        conf.set(RestartStrategyOptions.RESTART_STRATEGY_EXPONENTIAL_DELAY_INITIAL_BACKOFF, Duration.ofSeconds(1));
        conf.set(RestartStrategyOptions.RESTART_STRATEGY_EXPONENTIAL_DELAY_MAX_BACKOFF, MAX_RESTART_DELAY);
        conf.set(RestartStrategyOptions.RESTART_STRATEGY_EXPONENTIAL_DELAY_BACKOFF_MULTIPLIER, 2.0);
        conf.set(RestartStrategyOptions.RESTART_STRATEGY_EXPONENTIAL_DELAY_RESET_BACKOFF_THRESHOLD, Duration.ofMinutes(1));
        conf.set(RestartStrategyOptions.RESTART_STRATEGY_EXPONENTIAL_DELAY_JITTER_FACTOR, 0.1);
        conf.set(CheckpointingOptions.TOLERABLE_FAILURE_NUMBER, TOLERABLE_FAILED_CHECKPOINTS);
        conf.set(PipelineOptions.MAX_PARALLELISM, MAX_PARALLELISM);
        conf.set(CoreOptions.DEFAULT_PARALLELISM, DEFAULT_LOCAL_PARALLELISM);
        return conf;
    }

    /**
     * Stagewise's defaults on a cluster the job is submitted to: only what the job's guarantees
     * need where the cluster's configuration says nothing (the checkpoint interval, a checkpoint
     * timeout below the transaction timeout, no Kryo). State backend, retention, restarts and
     * parallelism stay the cluster's.
     */
    public static Configuration clusterDefaults() {
        Configuration conf = new Configuration();
        conf.set(CheckpointingOptions.CHECKPOINTING_INTERVAL, DEFAULT_CHECKPOINT_INTERVAL);
        conf.set(CheckpointingOptions.CHECKPOINTING_TIMEOUT, DEFAULT_CHECKPOINT_TIMEOUT);
        conf.set(PipelineOptions.GENERIC_TYPES, false);
        return conf;
    }

    /**
     * The job's own configuration on top of {@code flink}: every explicit flag, and each Stagewise
     * default whose key {@code flink} does not set. Pass it to {@code env.configure(..)}.
     */
    public static Configuration jobConfiguration(Configuration stagewiseDefaults, ReadableConfig flink, Configuration flags) {
        Map<String, String> present = flink.toMap();
        Configuration job = new Configuration();
        for (Map.Entry<String, String> entry : stagewiseDefaults.toMap().entrySet()) {
            if (!present.containsKey(entry.getKey())) {
                job.setString(entry.getKey(), entry.getValue());
            }
        }
        job.addAll(flags);
        return job;
    }

    /** {@code flink} with {@code job} layered over it: what the job runs with. */
    public static Configuration effective(ReadableConfig flink, Configuration job) {
        Configuration effective = Configuration.fromMap(flink.toMap());
        effective.addAll(job);
        return effective;
    }

    /**
     * A checkpoint location as Flink reads it: a URI with a scheme ({@code s3://b/x},
     * {@code hdfs://nn/x}, {@code file:///x}) as given, which Flink's {@code Path} takes literally
     * ({@code %20} stays three characters); a bare path is a local directory, made absolute
     * ({@code file:/abs/dir x}: Flink's own form of a local file, so a space stays a space).
     */
    public static String checkpointUri(String dirOrUri) {
        if (hasScheme(dirOrUri)) {
            return dirOrUri;
        }
        return "file:" + Path.of(dirOrUri).toAbsolutePath().normalize();
    }

    /** True for {@code scheme:...} with a scheme of two or more characters (not a Windows drive letter). */
    public static boolean hasScheme(String location) {
        int colon = location.indexOf(':');
        if (colon < 2) {
            return false;
        }
        try {
            URI uri = new URI(location);
            return uri.getScheme() != null && uri.getScheme().length() == colon;
        } catch (URISyntaxException e) {
            return false;
        }
    }
}
