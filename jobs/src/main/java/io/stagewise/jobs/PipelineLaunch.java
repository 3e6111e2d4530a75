package io.stagewise.jobs;

import io.stagewise.jobs.flags.PipelineFlags;
import io.stagewise.jobs.local.LocalFlink;
import io.stagewise.operators.stage.Workflow;
import io.stagewise.savepoints.Checkpoints;
import io.stagewise.sinks.postgres.PostgresSink;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
import org.apache.flink.annotation.Internal;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.CoreOptions;
import org.apache.flink.configuration.GlobalConfiguration;
import org.apache.flink.configuration.HighAvailabilityOptions;
import org.apache.flink.configuration.PipelineOptionsInternal;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.configuration.StateRecoveryOptions;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.ParseResult;

/**
 * Starts the pipeline from its flags, for {@code stagewise run} (a local Flink with the dashboard)
 * and {@code flink run} (the submitting cluster's environment): layers the settings (flag >
 * Flink configuration > Stagewise default), validates them into {@link PipelineSettings}, runs the
 * start-up checks that refuse a start which would lose data or crash-loop the job, prepares the
 * topics and calls {@link PipelineJob#assemble}.
 */
@Internal
public final class PipelineLaunch {
    private static final Logger LOG = LoggerFactory.getLogger(PipelineLaunch.class);
    /** Checkpoints of a local run without {@code --checkpoint-dir} nor a configured directory. */
    public static final String LOCAL_CHECKPOINT_DIR = ".stagewise/checkpoints";

    private final PipelineFlags flags;
    private final boolean onCluster;
    private final int dashboardPort;
    private final Configuration job;
    private final Configuration effective;
    private Integer prometheusPort;

    private PipelineLaunch(PipelineFlags flags, ParseResult parsed, boolean onCluster, int dashboardPort,
                           ReadableConfig base) {
        this.flags = flags;
        this.onCluster = onCluster;
        this.dashboardPort = dashboardPort;
        Configuration flinkLayer = FlinkSettings.effective(base, flags.dynamic());
        Configuration defaults = onCluster ? FlinkSettings.clusterDefaults() : localDefaults();
        Configuration explicit = flags.dynamic();
        explicit.addAll(flags.explicit(parsed));
        this.job = FlinkSettings.jobConfiguration(defaults, flinkLayer, explicit);
        this.effective = FlinkSettings.effective(base, job);
    }

    /** {@code flink run}: the cluster's configuration (config.yaml, {@code -D}, {@code -p}) is the base layer. */
    public static PipelineLaunch onCluster(PipelineFlags flags, ParseResult parsed) {
        StreamExecutionEnvironment probe = StreamExecutionEnvironment.getExecutionEnvironment();
        return new PipelineLaunch(flags, parsed, true, 0, probe.getConfiguration());
    }

    /**
     * {@code stagewise run}: the base layer is {@code $FLINK_CONF_DIR/config.yaml} when that
     * variable is set, and the {@code -D} flags.
     */
    public static PipelineLaunch local(PipelineFlags flags, ParseResult parsed, int dashboardPort) {
        String confDir = System.getenv("FLINK_CONF_DIR");
        Configuration base = confDir != null ? GlobalConfiguration.loadConfiguration(confDir) : new Configuration();
        return new PipelineLaunch(flags, parsed, false, dashboardPort, base);
    }

    /** Local runs: expose every metric for Prometheus on {@code port} (null: off). */
    public PipelineLaunch withPrometheus(Integer port) {
        this.prometheusPort = port;
        return this;
    }

    /** For tests: a launch over an explicit base configuration. */
    static PipelineLaunch of(PipelineFlags flags, ParseResult parsed, boolean onCluster, ReadableConfig base) {
        return new PipelineLaunch(flags, parsed, onCluster, 0, base);
    }

    private static Configuration localDefaults() {
        Configuration defaults = FlinkSettings.localDefaults();
        defaults.set(CheckpointingOptions.CHECKPOINTS_DIRECTORY, FlinkSettings.checkpointUri(LOCAL_CHECKPOINT_DIR));
        return defaults;
    }

    /** What the job's own configuration sets on top of the Flink configuration (flags and defaults). */
    Configuration jobConfiguration() {
        return job;
    }

    /** Everything the job runs with. */
    public Configuration effectiveConfiguration() {
        return effective;
    }

    /** The validated settings, with the ledger password from the flag or the environment. */
    public PipelineSettings settings() {
        return PipelineSettings.from(effective, flags.jdbcPassword);
    }

    /** Checks, prepares and runs the job; returns when it ends. */
    public void run() throws Exception {
        PipelineSettings settings = settings();
        Workflow workflow = Endpoints.workflow(settings);
        Optional<String> checkpointDir = effective.getOptional(CheckpointingOptions.CHECKPOINTS_DIRECTORY);
        String restorePath = restorePath(checkpointDir);
        if (restorePath != null) {
            job.set(StateRecoveryOptions.SAVEPOINT_PATH, restorePath);
            effective.set(StateRecoveryOptions.SAVEPOINT_PATH, restorePath);
        }
        Optional<String> restoring = effective.getOptional(StateRecoveryOptions.SAVEPOINT_PATH);
        try (Admin admin = Topics.admin(settings.bootstrapServers(), settings.kafkaClientProperties())) {
            Topics.checkReachable(admin, settings.bootstrapServers());
            Duration brokerMax = Topics.transactionMaxTimeout(admin, settings.bootstrapServers()).orElseGet(() -> {
                LOG.warn("Cannot read transaction.max.timeout.ms from the brokers at {} (DESCRIBE_CONFIGS denied?); "
                        + "checking --transaction-timeout against Kafka's default of {}", settings.bootstrapServers(),
                        Topics.DEFAULT_TRANSACTION_MAX_TIMEOUT);
                return Topics.DEFAULT_TRANSACTION_MAX_TIMEOUT;
            });
            StartupChecks.transactionTimeout(settings.transactionTimeout(), effective, brokerMax);
            if (restoring.isEmpty() && !flags.fresh && !recoveredByFlink()) {
                refuseStartWithoutState(admin, settings, checkpointDir);
            }
        }
        settings.ledger().ifPresent(ledger -> checkLedgerDatabase(ledger, effective.get(CoreOptions.DEFAULT_PARALLELISM)));

        Topics.Layout topics = PipelineJob.prepareTopics(settings);
        Endpoints endpoints = Endpoints.production(settings, topics, workflow);
        StreamExecutionEnvironment env;
        if (onCluster) {
            env = StreamExecutionEnvironment.getExecutionEnvironment();
            env.configure(flinkOnly(job));
        } else {
            Configuration local = flinkOnly(effective);
            if (prometheusPort != null) {
                LocalFlink.withPrometheus(local, prometheusPort);
            }
            env = LocalFlink.withDashboard(local, dashboardPort);
        }
        PipelineJob.assemble(env, settings, endpoints);

        System.out.printf("Stagewise pipeline: %s -> [%s] -> %s (dead letters: %s) on %s%n", settings.inputTopic(),
                workflow.stages().stream().map(Workflow.Stage::name).collect(Collectors.joining(" -> ")),
                settings.outputTopic(), settings.dlqTopic(), settings.bootstrapServers());
        System.out.printf("Checkpoints every %s in %s%n",
                effective.getOptional(CheckpointingOptions.CHECKPOINTING_INTERVAL).map(Object::toString).orElse("(not set)"),
                checkpointDir.orElse("(the cluster's default)"));
        if (!onCluster) {
            System.out.printf("Dashboard: %s%n", LocalFlink.dashboardUrl(dashboardPort));
            if (prometheusPort != null) {
                System.out.printf("Prometheus: %s%n", LocalFlink.prometheusUrl(prometheusPort));
            }
        }
        settings.ledger().ifPresent(ledger -> System.out.printf("Ledger: %s (two-phase commit, prefix %s)%n",
                PipelineSettings.redact(ledger.jdbcUrl()), settings.ledgerTransactionPrefix()));
        restoring.ifPresent(path -> System.out.printf("Restoring from %s%n", path));
        System.out.flush();
        env.execute("stagewise pipeline " + settings.inputTopic());
    }

    /**
     * A start without state while the last run left some behind would silently give up every
     * event that was in flight, backing off or in the retry ladder (the source resumes from the
     * group's committed offsets, the state that knew them is not restored): refused, naming the
     * way out.
     */
    private void refuseStartWithoutState(Admin admin, PipelineSettings settings, Optional<String> checkpointDir) {
        Optional<Checkpoints.Retained> retained = checkpointDir.flatMap(PipelineLaunch::latestCheckpoint);
        if (retained.isPresent()) {
            throw new StagewiseException("the checkpoint directory " + checkpointDir.get() + " holds checkpoint "
                    + retained.get().location() + " of an earlier run: resume it with --restore latest, or start "
                    + "without state on purpose with --fresh (in-flight and retrying events of that run are then given up)");
        }
        Map<TopicPartition, OffsetAndMetadata> committed = StartupChecks.committedOffsets(admin, settings);
        if (!committed.isEmpty()) {
            throw new StagewiseException("consumer group '" + settings.groupId() + "' has committed offsets for "
                    + committed.size() + " partition(s) of " + settings.sourceTopics() + " but no checkpoint is restored: "
                    + "resume with --restore latest (or --restore PATH), or start without state on purpose with --fresh "
                    + "(in-flight and retrying events of the earlier run are then given up)");
        }
    }

    /**
     * In application mode with high availability, Flink re-runs {@code main} after a JobManager
     * failover and recovers the job's state itself (a fixed job id, checkpoints from the HA store):
     * the refusal to start without {@code --restore} must not block that recovery.
     */
    private boolean recoveredByFlink() {
        boolean ha = !effective.get(HighAvailabilityOptions.HA_MODE).equalsIgnoreCase("NONE");
        return onCluster && (ha || effective.getOptional(PipelineOptionsInternal.PIPELINE_FIXED_JOB_ID).isPresent());
    }

    private static Optional<Checkpoints.Retained> latestCheckpoint(String dir) {
        try {
            return Checkpoints.latest(dir);
        } catch (UncheckedIOException e) {
            throw new StagewiseException("cannot list checkpoints in " + dir + " (--checkpoint-dir, "
                    + "execution.checkpointing.dir): " + e.getCause().getMessage());
        }
    }

    private String restorePath(Optional<String> checkpointDir) {
        String restore = flags.restore;
        if (restore == null) {
            return null;
        }
        if (restore.equals("latest")) {
            String dir = checkpointDir.orElseThrow(() -> new StagewiseException(
                    "--restore latest needs a checkpoint directory: --checkpoint-dir or execution.checkpointing.dir"));
            return latestCheckpoint(dir).map(Checkpoints.Retained::location)
                    .orElseThrow(() -> new StagewiseException("--restore latest: no complete checkpoint in "
                            + dir + " (is --checkpoint-dir right?)"));
        }
        if (FlinkSettings.hasScheme(restore)) {
            return restore; // a URI (s3://, hdfs://, file://): the JobManager resolves it, not this machine
        }
        Path path = Path.of(restore);
        if (!onCluster && !Files.exists(path)) {
            throw new StagewiseException("--restore " + restore + ": no such checkpoint or savepoint");
        }
        return FlinkSettings.checkpointUri(restore);
    }

    /**
     * The Flink part of a configuration: Stagewise's options are consumed here, at assembly, and
     * reach the job only as sanitized global job parameters ({@link PipelineSettings#jobParameters()}),
     * so Kafka client secrets never show in the dashboard's configuration views.
     */
    static Configuration flinkOnly(Configuration conf) {
        Map<String, String> flink = new HashMap<>(conf.toMap());
        flink.keySet().removeIf(key -> key.startsWith("stagewise."));
        return Configuration.fromMap(flink);
    }

    /** Fails within seconds, without the password, when the ledger database is unusable. */
    private static void checkLedgerDatabase(PipelineSettings.Ledger ledger, int parallelism) {
        try {
            PostgresSink.checkServer(ledger.jdbcUrl(), ledger.user(), ledger.password(), parallelism);
        } catch (SQLException e) {
            throw new StagewiseException("cannot use the ledger database " + PipelineSettings.redact(ledger.jdbcUrl())
                    + " (--jdbc-url): " + e.getMessage());
        } catch (IllegalStateException e) {
            throw new StagewiseException(e.getMessage());
        }
    }
}
