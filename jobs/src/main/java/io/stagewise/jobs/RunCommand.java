package io.stagewise.jobs;

import io.stagewise.jobs.flags.DurationConverter;
import io.stagewise.jobs.payments.PaymentsLedger;
import io.stagewise.jobs.local.LocalFlink;
import io.stagewise.savepoints.Checkpoints;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.StateRecoveryOptions;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code stagewise run}: the pipeline job against an external Kafka, on a Flink mini cluster in this
 * process with the dashboard ({@code ./stagewise run}) or on the cluster that submitted it
 * ({@code flink run -c io.stagewise.jobs.PipelineJob}, same flags).
 */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = "Run the pipeline job against an external Kafka broker.")
public final class RunCommand implements Callable<Integer> {
    @Option(names = "--bootstrap-servers", required = true, description = "Kafka bootstrap servers.")
    String bootstrapServers;

    @Option(names = "--input-topic", defaultValue = "payments", description = "Input topic T (default: ${DEFAULT-VALUE}); dead letters go to T.dlq.")
    String inputTopic;

    @Option(names = "--output-topic", defaultValue = "payments.completed", description = "Output topic (default: ${DEFAULT-VALUE}).")
    String outputTopic;

    @Option(names = "--checkpoint-dir", description = "Where checkpoints are written and retained (default: .stagewise/checkpoints locally, the cluster's setting on a cluster).")
    Path checkpointDir;

    @Option(names = "--checkpoint-interval", defaultValue = "10s", converter = DurationConverter.class,
            description = "Checkpoint interval, e.g. 500ms, 10s, 1min (default: ${DEFAULT-VALUE}). Output becomes visible to read_committed consumers at each checkpoint.")
    Duration checkpointInterval;

    @Option(names = "--restore", paramLabel = "latest|PATH",
            description = "Restore state: 'latest' = newest retained checkpoint in --checkpoint-dir, or the path of a checkpoint or savepoint.")
    String restore;

    @Option(names = "--parallelism", defaultValue = "2", description = "Parallelism (default: ${DEFAULT-VALUE}).")
    int parallelism;

    @Option(names = "--dashboard-port", defaultValue = "8081", description = "Port of the Flink dashboard, local runs only (default: ${DEFAULT-VALUE}).")
    int dashboardPort;

    @Option(names = "--prometheus-port", description = "Expose every metric at http://127.0.0.1:PORT/metrics for Prometheus, local runs only (default: off; on a cluster see flink-conf/config.yaml).")
    Integer prometheusPort;

    @Option(names = "--group-id", description = "Consumer group id (default: stagewise-<input topic>).")
    String groupId;

    @Option(names = "--transactional-id-prefix", description = "Kafka transactional id prefix, unique per job (default: stagewise-<input topic>).")
    String transactionalIdPrefix;

    @Option(names = "--transaction-timeout", defaultValue = "10min", converter = DurationConverter.class,
            description = "Kafka transaction timeout; above checkpoint interval + restart time, at most the broker's transaction.max.timeout.ms (default: ${DEFAULT-VALUE}).")
    Duration transactionTimeout;

    @Option(names = "--dedup-ttl", defaultValue = "7d", converter = DurationConverter.class,
            description = "How long event ids are remembered for dedup (default: ${DEFAULT-VALUE}).")
    Duration dedupTtl;

    @Option(names = "--max-event-bytes", defaultValue = "1048576", description = "Larger records are dead-lettered as malformed (default: ${DEFAULT-VALUE}).")
    int maxEventBytes;

    @Option(names = "--workflow", defaultValue = "payments", description = "payments (validate -> charge -> notify; needs --gateway-url) or dedup-only (default: ${DEFAULT-VALUE}).")
    String workflow;

    @Option(names = "--gateway-url", description = "Base URL of the payment gateway, e.g. http://127.0.0.1:8090.")
    String gatewayUrl;

    @Option(names = "--jdbc-url", description = "PostgreSQL of the payments ledger, e.g. jdbc:postgresql://db:5432/payments; completed payments are applied there exactly once. Without it, no ledger is written.")
    String jdbcUrl;

    @Option(names = "--jdbc-user", description = "Ledger database user (default: env STAGEWISE_JDBC_USER, or from the URL).")
    String jdbcUser;

    @Option(names = "--jdbc-password", description = "Ledger database password (default: env STAGEWISE_JDBC_PASSWORD). Never logged.", arity = "0..1", interactive = true)
    String jdbcPassword;

    @Option(names = "--call-timeout", defaultValue = "10s", converter = DurationConverter.class,
            description = "Timeout of one downstream call (default: ${DEFAULT-VALUE}).")
    Duration callTimeout;

    @Option(names = "--max-in-flight", defaultValue = "100", description = "Downstream calls in flight per subtask (default: ${DEFAULT-VALUE}).")
    int maxInFlight;

    @Option(names = "--retry-attempts", defaultValue = "3", description = "In-operator attempts per stage before a retryable failure leaves the operator (default: ${DEFAULT-VALUE}).")
    int retryAttempts;

    @Option(names = "--retry-initial-backoff", defaultValue = "100ms", converter = DurationConverter.class,
            description = "First in-operator backoff; doubles each attempt, with jitter (default: ${DEFAULT-VALUE}).")
    Duration retryInitialBackoff;

    @Option(names = "--retry-topics", defaultValue = "3", description = "Retry topics T.retry.1..N after the in-operator attempts; 0 = straight to the DLQ (default: ${DEFAULT-VALUE}).")
    int retryTopics;

    @Option(names = "--retry-topic-delay", defaultValue = "5s", converter = DurationConverter.class,
            description = "Delay of T.retry.1; step n waits delay x multiplier^(n-1) (default: ${DEFAULT-VALUE}).")
    Duration retryTopicDelay;

    @Option(names = "--retry-topic-multiplier", defaultValue = "4", description = "Delay multiplier between retry topics, >= 2 (default: ${DEFAULT-VALUE}).")
    double retryTopicMultiplier;

    @Option(names = "--ordering", defaultValue = "unordered", description = "unordered, or per-key: one event per business key at a time, later events of the key wait while it runs or retries (default: ${DEFAULT-VALUE}).")
    String ordering;

    @Option(names = "--inject-failure-after", defaultValue = "0", description = "Fail each subtask once after this many events (0: never), to watch recovery.")
    long injectFailureAfter;

    private final boolean onCluster;

    public RunCommand() {
        this(false);
    }

    private RunCommand(boolean onCluster) {
        this.onCluster = onCluster;
    }

    /** The command as {@code flink run} executes it: on the submitting cluster's environment. */
    public static RunCommand onCluster() {
        return new RunCommand(true);
    }

    @Override
    public Integer call() throws Exception {
        if (parallelism < 1) {
            throw new StagewiseException("--parallelism must be >= 1, got " + parallelism);
        }
        if (maxEventBytes < 1) {
            throw new StagewiseException("--max-event-bytes must be >= 1, got " + maxEventBytes);
        }
        Path checkpoints = checkpointDir != null ? checkpointDir : Path.of(".stagewise", "checkpoints");
        Configuration conf = onCluster && checkpointDir == null
                ? clusterDefaults()
                : FlinkSettings.defaults(checkpointInterval, checkpoints);
        conf.set(StagewiseOptions.BOOTSTRAP_SERVERS, bootstrapServers);
        conf.set(StagewiseOptions.INPUT_TOPIC, inputTopic);
        conf.set(StagewiseOptions.OUTPUT_TOPIC, outputTopic);
        conf.set(StagewiseOptions.TRANSACTION_TIMEOUT, transactionTimeout);
        conf.set(StagewiseOptions.DEDUP_TTL, dedupTtl);
        conf.set(StagewiseOptions.MAX_EVENT_BYTES, maxEventBytes);
        conf.set(StagewiseOptions.INJECT_FAILURE_AFTER, injectFailureAfter);
        conf.set(StagewiseOptions.WORKFLOW, workflow);
        if (gatewayUrl != null) {
            conf.set(StagewiseOptions.GATEWAY_URL, gatewayUrl);
        }
        conf.set(StagewiseOptions.CALL_TIMEOUT, callTimeout);
        conf.set(StagewiseOptions.MAX_IN_FLIGHT, maxInFlight);
        conf.set(StagewiseOptions.RETRY_ATTEMPTS, retryAttempts);
        conf.set(StagewiseOptions.RETRY_INITIAL_BACKOFF, retryInitialBackoff);
        conf.set(StagewiseOptions.RETRY_TOPICS, retryTopics);
        conf.set(StagewiseOptions.ORDERING, ordering);
        conf.set(StagewiseOptions.RETRY_TOPICS_INITIAL_DELAY, retryTopicDelay);
        conf.set(StagewiseOptions.RETRY_TOPICS_MULTIPLIER, retryTopicMultiplier);
        io.stagewise.operators.stage.Workflow pipelineWorkflow;
        io.stagewise.operators.stage.StageSettings stageSettings;
        try {
            pipelineWorkflow = PipelineJob.workflow(conf);
            stageSettings = StagewiseOptions.stageSettings(conf);
        } catch (IllegalArgumentException e) {
            throw new StagewiseException(e.getMessage());
        }
        if (groupId != null) {
            conf.set(StagewiseOptions.GROUP_ID, groupId);
        }
        if (transactionalIdPrefix != null) {
            conf.set(StagewiseOptions.TRANSACTIONAL_ID_PREFIX, transactionalIdPrefix);
        }
        String restorePath = restorePath(checkpoints);
        if (restorePath != null) {
            conf.set(StateRecoveryOptions.SAVEPOINT_PATH, restorePath);
        }

        int dlqMaxMessageBytes = PipelineJob.prepareTopics(conf);
        PipelineJob.Sinks sinks = PipelineJob.Sinks.kafka(conf, dlqMaxMessageBytes);
        if (jdbcUrl != null) {
            PaymentsLedger.Database database = new PaymentsLedger.Database(jdbcUrl,
                    jdbcUser != null ? jdbcUser : System.getenv("STAGEWISE_JDBC_USER"),
                    jdbcPassword != null ? jdbcPassword : System.getenv("STAGEWISE_JDBC_PASSWORD"));
            checkLedgerDatabase(database);
            sinks = sinks.withLedger(PaymentsLedger.sink(database, StagewiseOptions.ledgerTransactionPrefix(conf)));
        }

        if (prometheusPort != null && !onCluster) {
            LocalFlink.withPrometheus(conf, prometheusPort);
        }
        StreamExecutionEnvironment env = onCluster
                ? StreamExecutionEnvironment.getExecutionEnvironment(conf)
                : LocalFlink.withDashboard(conf, dashboardPort);
        env.setParallelism(parallelism);
        PipelineJob.build(env, PipelineJob.Sources.kafka(conf), sinks, pipelineWorkflow, conf);

        System.out.printf("Stagewise pipeline: %s -> [%s] -> %s (dead letters: %s) on %s%n", inputTopic,
                String.join(" -> ", pipelineWorkflow.stages().stream().map(io.stagewise.operators.stage.Workflow.Stage::name)
                        .toArray(String[]::new)), outputTopic, Topics.dlq(inputTopic), bootstrapServers);
        if (!onCluster) {
            System.out.printf("Checkpoints every %s in %s%n", checkpointInterval, checkpoints.toAbsolutePath());
            System.out.printf("Dashboard: %s%n", LocalFlink.dashboardUrl(dashboardPort));
            if (prometheusPort != null) {
                System.out.printf("Prometheus: %s%n", LocalFlink.prometheusUrl(prometheusPort));
            }
        }
        if (jdbcUrl != null) {
            System.out.printf("Ledger: %s (two-phase commit, prefix %s)%n", redact(jdbcUrl),
                    StagewiseOptions.ledgerTransactionPrefix(conf));
        }
        if (restorePath != null) {
            System.out.printf("Restoring from %s%n", restorePath);
        }
        System.out.flush();
        env.execute("stagewise pipeline " + inputTopic);
        return 0;
    }

    /** Fails within seconds, without the password, when the ledger database is unusable. */
    private void checkLedgerDatabase(PaymentsLedger.Database database) {
        if (!jdbcUrl.startsWith("jdbc:postgresql:")) {
            throw new StagewiseException("--jdbc-url must be a PostgreSQL JDBC URL (jdbc:postgresql://host:port/db), got "
                    + redact(jdbcUrl));
        }
        try {
            java.sql.DriverManager.setLoginTimeout(10);
            io.stagewise.sinks.postgres.PostgresSink.checkServer(database.jdbcUrl(), database.user(), database.password(),
                    parallelism);
        } catch (java.sql.SQLException e) {
            throw new StagewiseException("cannot use the ledger database " + redact(jdbcUrl) + ": " + e.getMessage());
        } catch (IllegalStateException e) {
            throw new StagewiseException(e.getMessage());
        }
    }

    /** The URL without a password parameter. */
    static String redact(String url) {
        return url.replaceAll("(?i)(password=)[^&]*", "$1***");
    }

    private Configuration clusterDefaults() {
        // On a cluster, the cluster's config.yaml (flink-conf/config.yaml) governs state backend,
        // retention and restarts; the job sets only what its flags say.
        Configuration conf = new Configuration();
        conf.set(org.apache.flink.configuration.CheckpointingOptions.CHECKPOINTING_INTERVAL, checkpointInterval);
        conf.set(org.apache.flink.configuration.PipelineOptions.GENERIC_TYPES, false);
        return conf;
    }

    private String restorePath(Path checkpoints) {
        if (restore == null) {
            return null;
        }
        if (restore.equals("latest")) {
            return Checkpoints.latest(checkpoints)
                    .map(c -> c.path().toAbsolutePath().toString())
                    .orElseThrow(() -> new StagewiseException("--restore latest: no complete checkpoint in "
                            + checkpoints.toAbsolutePath() + " (is --checkpoint-dir right?)"));
        }
        Path path = Path.of(restore);
        if (!path.isAbsolute() && restore.contains("://")) {
            return restore; // a URI (s3://, hdfs://): let Flink resolve it
        }
        if (!Files.exists(path.resolve("_metadata")) && !Files.exists(path)) {
            throw new StagewiseException("--restore " + restore + ": no such checkpoint or savepoint");
        }
        return path.toAbsolutePath().toString();
    }
}
