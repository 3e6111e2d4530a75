package io.stagewise.jobs.reconcile;

import io.stagewise.jobs.StagewiseException;
import io.stagewise.jobs.StagewiseOptions;
import io.stagewise.jobs.Topics;
import io.stagewise.jobs.flags.DurationConverter;
import io.stagewise.jobs.flags.KafkaFlags;
import io.stagewise.jobs.payments.PaymentsLedger;
import io.stagewise.operators.ingest.EventParser;
import io.stagewise.operators.retry.RetryLadder;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.apache.flink.configuration.ReadableConfig;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The flags of {@code stagewise reconcile} and of {@code flink run -c
 * io.stagewise.jobs.reconcile.ReconcileJob}: one spelling and one default each (docs/reconcile.md).
 * The pipeline's flags keep their spelling here ({@code --input-topic}, {@code --jdbc-url},
 * {@code --retry-topics}, ...), so a reconciliation can be started with the flags of the run it checks.
 */
public final class ReconcileFlags {
    /** {@code --bootstrap-servers}, {@code --kafka-property}, {@code --kafka-properties}: for every Kafka client of the run. */
    @Mixin
    KafkaFlags kafka = new KafkaFlags();

    @Option(names = "--input-topic", defaultValue = "payments", description = "Input topic T (default: ${DEFAULT-VALUE}); dead letters are read from T.dlq, repairs go to T.")
    String inputTopic;

    @Option(names = "--output-topic", defaultValue = "payments.completed", description = "Output topic (default: ${DEFAULT-VALUE}).")
    String outputTopic;

    @Option(names = "--jdbc-url", description = "PostgreSQL of the payments ledger; without it the ledger classes and balances are not checked.")
    String jdbcUrl;

    @Option(names = "--jdbc-user", description = "Ledger database user (default: env STAGEWISE_JDBC_USER, or from the URL).")
    String jdbcUser;

    @Option(names = "--jdbc-password", description = "Ledger database password (default: env STAGEWISE_JDBC_PASSWORD). Never logged.")
    String jdbcPassword;

    @Option(names = "--gateway-url", description = "Base URL of the gateway; its effective charges are read with GET /audit/charges.")
    String gatewayUrl;

    @Option(names = "--gateway-jdbc-url", description = "The gateway's PostgreSQL: its gateway_charges table is read in parallel (instead of --gateway-url).")
    String gatewayJdbcUrl;

    @Option(names = "--settle", converter = DurationConverter.class,
            description = "Ids younger than this that are not done are in-flight (default: the retry ladder's total delay + --checkpoint-interval).")
    Duration settle;

    @Option(names = "--retry-topics", defaultValue = "3", description = "The pipeline's retry topics, for the settle window (default: ${DEFAULT-VALUE}).")
    int retryTopics;

    @Option(names = "--retry-topic-delay", defaultValue = "5s", converter = DurationConverter.class,
            description = "The pipeline's first retry topic delay, for the settle window (default: ${DEFAULT-VALUE}).")
    Duration retryTopicDelay;

    @Option(names = "--retry-topic-multiplier", defaultValue = "4", description = "The pipeline's retry delay multiplier, for the settle window (default: ${DEFAULT-VALUE}).")
    double retryTopicMultiplier;

    @Option(names = "--checkpoint-interval", defaultValue = "10s", converter = DurationConverter.class,
            description = "The pipeline's checkpoint interval, for the settle window (default: ${DEFAULT-VALUE}).")
    Duration checkpointInterval;

    @Option(names = "--max-event-bytes", defaultValue = "1048576", description = "The pipeline's size limit; larger records are malformed (default: ${DEFAULT-VALUE}).")
    int maxEventBytes = EventParser.DEFAULT_MAX_EVENT_BYTES;

    @Option(names = "--parallelism", defaultValue = "2", description = "Parallelism of the reconcile job (default: ${DEFAULT-VALUE}).")
    int parallelism;

    @Option(names = "--examples", defaultValue = "10", description = "Examples shown per class (default: ${DEFAULT-VALUE}).")
    int examples;

    @Option(names = "--json", description = "Print a machine-readable summary as the last line.")
    boolean json;

    @Option(names = "--html", paramLabel = "FILE", description = "Write a self-contained HTML report: a table per class.")
    Path html;

    @Option(names = "--repair", description = "Re-inject MISSING and CHARGED-NOT-RECORDED ids into the input topic (opt-in).")
    boolean repair;

    @Option(names = "--dry-run", description = "With --repair: show what would be re-injected, write nothing.")
    boolean dryRun;

    @Option(names = "--batch-size", defaultValue = "100", description = "Repair records per Kafka transaction (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--every", converter = DurationConverter.class,
            description = "Periodic mode: reconcile every D (e.g. 15min), each run over the input since the last; offsets kept in table stagewise_reconcile_offsets.")
    Duration every;

    @Option(names = "--state-jdbc-url", description = "PostgreSQL for periodic mode's offsets table (default: --jdbc-url; same user and password).")
    String stateJdbcUrl;

    @Option(names = "--run-id", description = "Names the run in reports, the stagewise.repair-of header and the transactional id (default: time + random).")
    String runId;

    /**
     * @param flink the Flink configuration the job runs with: its {@code stagewise.kafka.properties}
     *     (config.yaml, {@code -D}) apply under {@code --kafka-properties} and {@code --kafka-property}
     */
    public ReconcileSettings settings(ReadableConfig flink) {
        Map<String, String> kafkaProperties = new LinkedHashMap<>(flink.getOptional(StagewiseOptions.KAFKA_PROPERTIES).orElse(Map.of()));
        kafkaProperties.putAll(kafka.clientPropertyMap());
        Optional<PaymentsLedger.Database> ledger = Optional.ofNullable(jdbcUrl).map(url -> new PaymentsLedger.Database(url,
                jdbcUser != null ? jdbcUser : System.getenv("STAGEWISE_JDBC_USER"),
                jdbcPassword != null ? jdbcPassword : System.getenv("STAGEWISE_JDBC_PASSWORD")));
        Duration window = settle != null ? settle : ReconcileSettings.settleWindow(ladder(), checkpointInterval);
        return new ReconcileSettings(kafka.bootstrapServers, inputTopic, outputTopic, Topics.dlq(inputTopic), ledger,
                Optional.ofNullable(gatewayUrl), Optional.ofNullable(gatewayJdbcUrl), window, maxEventBytes, parallelism,
                kafkaProperties);
    }

    public Reconciliation.Options options() {
        return new Reconciliation.Options(runId != null ? runId : Reconciliation.Options.newRunId(), examples, repair,
                dryRun, batchSize, Optional.ofNullable(html));
    }

    /** Periodic mode's interval, when {@code --every} was given. */
    public Optional<Duration> every() {
        return Optional.ofNullable(every);
    }

    /** Where periodic mode keeps its offsets; a user error without a database. */
    public ReconcileState state() {
        String url = stateJdbcUrl != null ? stateJdbcUrl : jdbcUrl;
        if (url == null) {
            throw new StagewiseException("--every needs a database for its offsets table: --state-jdbc-url or --jdbc-url");
        }
        return new ReconcileState(new PaymentsLedger.Database(url,
                jdbcUser != null ? jdbcUser : System.getenv("STAGEWISE_JDBC_USER"),
                jdbcPassword != null ? jdbcPassword : System.getenv("STAGEWISE_JDBC_PASSWORD")));
    }

    /** Runs what the flags ask, prints, and returns the exit code: 0 clean, 1 discrepancies. */
    public int execute(PrintWriter out) {
        Reconciliation.Options options = options();
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        ReconcileSettings settings = settings(env.getConfiguration());
        if (every != null) {
            return Reconciliation.every(every, settings, options, state(), json, out);
        }
        ReconcileReport report = Reconciliation.run(env, settings, options);
        return Reconciliation.print(report, options, json, out);
    }

    public boolean json() {
        return json;
    }

    private RetryLadder ladder() {
        try {
            return new RetryLadder(retryTopics, retryTopicDelay, retryTopicMultiplier);
        } catch (IllegalArgumentException e) {
            throw new StagewiseException(e.getMessage() + " (--retry-topics, --retry-topic-delay, --retry-topic-multiplier)");
        }
    }
}
