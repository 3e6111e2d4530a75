package io.stagewise.jobs;

import io.stagewise.jobs.StagewiseOptions.Ordering;
import io.stagewise.jobs.StagewiseOptions.WorkflowName;
import io.stagewise.operators.retry.RetryLadder;
import io.stagewise.operators.stage.BatchSettings;
import io.stagewise.operators.stage.RetrySettings;
import io.stagewise.operators.stage.StageSettings;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.TreeMap;
import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ReadableConfig;

/**
 * The pipeline's settings, read from a Flink configuration ({@link StagewiseOptions}) and validated
 * once, at the edge: a bad value fails here with a message naming the option, before the job
 * touches anything. {@link PipelineJob#assemble} and the endpoints read only this value object.
 *
 * @param kafkaProperties extra client properties for every Kafka client (SASL/SSL); never logged
 * @param batching how the workflow's batching stages batch, or empty for single calls ({@code --batching off})
 * @param ledger the ledger database, or empty when no ledger is written
 */
@PublicEvolving
public record PipelineSettings(
        String bootstrapServers,
        String inputTopic,
        String outputTopic,
        String groupId,
        String transactionalIdPrefix,
        Duration transactionTimeout,
        int maxEventBytes,
        WorkflowName workflow,
        Optional<String> gatewayUrl,
        StageSettings stages,
        Optional<BatchSettings> batching,
        Optional<Ledger> ledger,
        String ledgerTransactionPrefix,
        Optional<Integer> replicationFactor,
        Map<String, String> kafkaProperties,
        boolean bounded,
        long injectFailureAfter) {

    /** The ledger database; the password never reaches logs, job parameters or {@link #toString()}. */
    public record Ledger(String jdbcUrl, String user, String password) {
        @Override
        public String toString() {
            return "Ledger{" + redact(jdbcUrl) + ", user=" + user + ", password=" + (password == null ? "none" : "***") + "}";
        }
    }

    public PipelineSettings {
        kafkaProperties = Map.copyOf(kafkaProperties);
    }

    /** The settings of {@code conf} (Stagewise's defaults for what it leaves unset), validated. */
    public static PipelineSettings from(ReadableConfig conf) {
        return from(conf, null);
    }

    /**
     * As {@link #from(ReadableConfig)}, with the ledger password, which is never read from the
     * Flink configuration (the dashboard shows that).
     */
    public static PipelineSettings from(ReadableConfig conf, String ledgerPassword) {
        String input = get(conf, StagewiseOptions.INPUT_TOPIC);
        requireText(input, StagewiseOptions.INPUT_TOPIC);
        String output = get(conf, StagewiseOptions.OUTPUT_TOPIC);
        requireText(output, StagewiseOptions.OUTPUT_TOPIC);
        requireText(get(conf, StagewiseOptions.BOOTSTRAP_SERVERS), StagewiseOptions.BOOTSTRAP_SERVERS);
        int maxEventBytes = get(conf, StagewiseOptions.MAX_EVENT_BYTES);
        if (maxEventBytes < 1) {
            throw invalid(StagewiseOptions.MAX_EVENT_BYTES, "must be >= 1, got " + maxEventBytes);
        }
        Duration transactionTimeout = get(conf, StagewiseOptions.TRANSACTION_TIMEOUT);
        if (!isPositive(transactionTimeout)) {
            throw invalid(StagewiseOptions.TRANSACTION_TIMEOUT, "must be positive, got " + transactionTimeout);
        }
        Optional<Integer> replication = conf.getOptional(StagewiseOptions.REPLICATION_FACTOR);
        if (replication.isPresent() && replication.get() < 1) {
            throw invalid(StagewiseOptions.REPLICATION_FACTOR, "must be >= 1, got " + replication.get());
        }
        WorkflowName workflow = get(conf, StagewiseOptions.WORKFLOW);
        Optional<String> gateway = conf.getOptional(StagewiseOptions.GATEWAY_URL);
        Optional<Ledger> ledger = conf.getOptional(StagewiseOptions.LEDGER_JDBC_URL).map(url -> new Ledger(url,
                conf.getOptional(StagewiseOptions.LEDGER_JDBC_USER).orElse(System.getenv("STAGEWISE_JDBC_USER")),
                ledgerPassword != null ? ledgerPassword : System.getenv("STAGEWISE_JDBC_PASSWORD")));
        if (ledger.isPresent() && !ledger.get().jdbcUrl().startsWith("jdbc:postgresql:")) {
            throw new StagewiseException("--jdbc-url must be a PostgreSQL JDBC URL (jdbc:postgresql://host:port/db), got "
                    + redact(ledger.get().jdbcUrl()));
        }
        if (workflow == WorkflowName.DEDUP_ONLY && ledger.isPresent()) {
            // A dedup-only run completes events without validate/charge outputs: every ledger row
            // would fail in the sink and crash-loop the job (docs/failures.md).
            throw new StagewiseException("--workflow dedup-only writes no payments, so it cannot apply a ledger: drop "
                    + "--jdbc-url (" + StagewiseOptions.LEDGER_JDBC_URL.key() + ") or use --workflow payments");
        }
        StageSettings stages = stageSettings(conf);
        Optional<BatchSettings> batching = batchSettings(conf, stages.maxInFlight());
        if (batching.isPresent() && batching.get().maxBatch() > stages.maxInFlight()) {
            // The engine lets at most --max-in-flight items of a stage out per subtask, so a larger
            // batch never fills and the size would climb to a bound it cannot reach.
            throw new StagewiseException("--max-batch (" + StagewiseOptions.MAX_BATCH.key() + ") "
                    + batching.get().maxBatch() + " is larger than --max-in-flight (" + StagewiseOptions.MAX_IN_FLIGHT.key()
                    + ") " + stages.maxInFlight() + ": a batch holds at most the items in flight per remote stage per "
                    + "subtask, so it could never fill; lower --max-batch or raise --max-in-flight");
        }
        return new PipelineSettings(
                get(conf, StagewiseOptions.BOOTSTRAP_SERVERS),
                input,
                output,
                conf.getOptional(StagewiseOptions.GROUP_ID).orElse("stagewise-" + input),
                conf.getOptional(StagewiseOptions.TRANSACTIONAL_ID_PREFIX).orElse("stagewise-" + input),
                transactionTimeout,
                maxEventBytes,
                workflow,
                gateway,
                stages,
                batching,
                ledger,
                conf.getOptional(StagewiseOptions.LEDGER_TRANSACTION_PREFIX).orElse("stagewise-" + input + "-ledger"),
                replication,
                conf.getOptional(StagewiseOptions.KAFKA_PROPERTIES).orElse(Map.of()),
                get(conf, StagewiseOptions.BOUNDED),
                get(conf, StagewiseOptions.INJECT_FAILURE_AFTER));
    }

    /**
     * The batch settings, or none with batching off. {@code --max-batch} left unset is its default
     * or {@code maxInFlight}, whichever is lower (a batch never holds more than the items in flight);
     * set explicitly above {@code maxInFlight}, the caller refuses it.
     */
    private static Optional<BatchSettings> batchSettings(ReadableConfig conf, int maxInFlight) {
        if (get(conf, StagewiseOptions.BATCHING) == StagewiseOptions.Batching.OFF) {
            return Optional.empty();
        }
        int maxBatch;
        try {
            maxBatch = conf.getOptional(StagewiseOptions.MAX_BATCH)
                    .orElse(Math.min(StagewiseOptions.MAX_BATCH.defaultValue(), maxInFlight));
        } catch (IllegalArgumentException e) {
            throw invalid(StagewiseOptions.MAX_BATCH, e.getMessage());
        }
        try {
            return Optional.of(new BatchSettings(get(conf, StagewiseOptions.BATCH_LINGER), get(conf, StagewiseOptions.MIN_BATCH),
                    maxBatch, get(conf, StagewiseOptions.BATCH_LATENCY_TARGET),
                    get(conf, StagewiseOptions.MAX_BATCHES_IN_FLIGHT)));
        } catch (IllegalArgumentException e) {
            throw new StagewiseException("batching (stagewise.batch.*): " + e.getMessage());
        }
    }

    private static StageSettings stageSettings(ReadableConfig conf) {
        RetrySettings retry;
        try {
            retry = RetrySettings.builder()
                    .maxAttempts(get(conf, StagewiseOptions.RETRY_ATTEMPTS))
                    .initialBackoff(get(conf, StagewiseOptions.RETRY_INITIAL_BACKOFF))
                    .multiplier(get(conf, StagewiseOptions.RETRY_MULTIPLIER))
                    .maxBackoff(get(conf, StagewiseOptions.RETRY_MAX_BACKOFF))
                    .build();
        } catch (IllegalArgumentException e) {
            throw new StagewiseException("in-operator retry (stagewise.retry.*): " + e.getMessage());
        }
        RetryLadder ladder;
        try {
            ladder = new RetryLadder(get(conf, StagewiseOptions.RETRY_TOPICS),
                    get(conf, StagewiseOptions.RETRY_TOPICS_INITIAL_DELAY), get(conf, StagewiseOptions.RETRY_TOPICS_MULTIPLIER));
        } catch (IllegalArgumentException e) {
            throw new StagewiseException("retry topics (stagewise.retry-topics.*, --retry-topics, --retry-topic-delay, "
                    + "--retry-topic-multiplier): " + e.getMessage());
        }
        try {
            return new StageSettings(retry, get(conf, StagewiseOptions.CALL_TIMEOUT), get(conf, StagewiseOptions.MAX_IN_FLIGHT),
                    get(conf, StagewiseOptions.DEDUP_TTL), ladder, get(conf, StagewiseOptions.ORDERING) == Ordering.PER_KEY)
                    .withConcurrency(get(conf, StagewiseOptions.CONCURRENCY).mode(), get(conf, StagewiseOptions.MIN_IN_FLIGHT));
        } catch (IllegalArgumentException e) {
            throw new StagewiseException("stage settings (stagewise.stage.*, stagewise.dedup.ttl): " + e.getMessage());
        }
    }

    /** The retry ladder's topics {@code T.retry.1..N}. */
    public List<String> retryTopics() {
        return stages.ladder().topics(inputTopic);
    }

    /** The input topic and its retry topics: the source reads them all. */
    public List<String> sourceTopics() {
        List<String> topics = new ArrayList<>();
        topics.add(inputTopic);
        topics.addAll(retryTopics());
        return topics;
    }

    public String dlqTopic() {
        return Topics.dlq(inputTopic);
    }

    /** {@link #kafkaProperties} as client properties, to be overlaid by what a client must set itself. */
    public Properties kafkaClientProperties() {
        Properties props = new Properties();
        props.putAll(kafkaProperties);
        return props;
    }

    /**
     * The effective settings as the dashboard's Configuration tab shows them (global job
     * parameters): every Stagewise option by key, secrets left out (the ledger password is never
     * here; Kafka client properties show their keys only).
     */
    public Map<String, String> jobParameters() {
        Map<String, String> params = new TreeMap<>();
        params.put(StagewiseOptions.BOOTSTRAP_SERVERS.key(), bootstrapServers);
        params.put(StagewiseOptions.INPUT_TOPIC.key(), inputTopic);
        params.put(StagewiseOptions.OUTPUT_TOPIC.key(), outputTopic);
        params.put(StagewiseOptions.GROUP_ID.key(), groupId);
        params.put(StagewiseOptions.TRANSACTIONAL_ID_PREFIX.key(), transactionalIdPrefix);
        params.put(StagewiseOptions.TRANSACTION_TIMEOUT.key(), transactionTimeout.toString());
        params.put(StagewiseOptions.MAX_EVENT_BYTES.key(), Integer.toString(maxEventBytes));
        params.put(StagewiseOptions.WORKFLOW.key(), workflow.toString());
        gatewayUrl.ifPresent(url -> params.put(StagewiseOptions.GATEWAY_URL.key(), url));
        params.put(StagewiseOptions.DEDUP_TTL.key(), stages.stateTtl().toString());
        params.put(StagewiseOptions.ORDERING.key(), (stages.perKeyOrdering() ? Ordering.PER_KEY : Ordering.UNORDERED).toString());
        params.put(StagewiseOptions.CALL_TIMEOUT.key(), stages.callTimeout().toString());
        params.put(StagewiseOptions.MAX_IN_FLIGHT.key(), Integer.toString(stages.maxInFlight()));
        params.put(StagewiseOptions.MIN_IN_FLIGHT.key(), Integer.toString(stages.minInFlight()));
        params.put(StagewiseOptions.CONCURRENCY.key(), StagewiseOptions.Concurrency.of(stages.concurrency()).toString());
        params.put(StagewiseOptions.BATCHING.key(), (batching.isPresent() ? StagewiseOptions.Batching.ON
                : StagewiseOptions.Batching.OFF).toString());
        batching.ifPresent(b -> {
            params.put(StagewiseOptions.BATCH_LINGER.key(), b.linger().toString());
            params.put(StagewiseOptions.MIN_BATCH.key(), Integer.toString(b.minBatch()));
            params.put(StagewiseOptions.MAX_BATCH.key(), Integer.toString(b.maxBatch()));
            params.put(StagewiseOptions.BATCH_LATENCY_TARGET.key(), b.latencyTarget().toString());
            params.put(StagewiseOptions.MAX_BATCHES_IN_FLIGHT.key(), Integer.toString(b.maxBatchesInFlight()));
        });
        params.put(StagewiseOptions.RETRY_ATTEMPTS.key(), Integer.toString(stages.retry().maxAttempts()));
        params.put(StagewiseOptions.RETRY_INITIAL_BACKOFF.key(), stages.retry().initialBackoff().toString());
        params.put(StagewiseOptions.RETRY_MULTIPLIER.key(), Double.toString(stages.retry().multiplier()));
        params.put(StagewiseOptions.RETRY_MAX_BACKOFF.key(), stages.retry().maxBackoff().toString());
        params.put(StagewiseOptions.RETRY_TOPICS.key(), Integer.toString(stages.ladder().steps()));
        params.put("stagewise.retry-topics.delays", stages.ladder().toString());
        ledger.ifPresent(l -> {
            params.put(StagewiseOptions.LEDGER_JDBC_URL.key(), redact(l.jdbcUrl()));
            if (l.user() != null) {
                params.put(StagewiseOptions.LEDGER_JDBC_USER.key(), l.user());
            }
            params.put(StagewiseOptions.LEDGER_TRANSACTION_PREFIX.key(), ledgerTransactionPrefix);
        });
        replicationFactor.ifPresent(r -> params.put(StagewiseOptions.REPLICATION_FACTOR.key(), Integer.toString(r)));
        if (!kafkaProperties.isEmpty()) {
            params.put(StagewiseOptions.KAFKA_PROPERTIES.key() + ".keys", String.join(",", new TreeMap<>(kafkaProperties).keySet()));
        }
        params.put(StagewiseOptions.BOUNDED.key(), Boolean.toString(bounded));
        params.put(StagewiseOptions.INJECT_FAILURE_AFTER.key(), Long.toString(injectFailureAfter));
        return params;
    }

    @Override
    public String toString() {
        return "PipelineSettings" + jobParameters();
    }

    /** A JDBC URL without a password parameter. */
    public static String redact(String url) {
        return url.replaceAll("(?i)(password=)[^&]*", "$1***");
    }

    private static <T> T get(ReadableConfig conf, ConfigOption<T> option) {
        try {
            return conf.get(option);
        } catch (IllegalArgumentException e) {
            throw invalid(option, e.getMessage());
        }
    }

    private static StagewiseException invalid(ConfigOption<?> option, String problem) {
        return new StagewiseException(option.key() + " " + problem);
    }

    private static void requireText(String value, ConfigOption<String> option) {
        if (value == null || value.isBlank()) {
            throw invalid(option, "must not be empty");
        }
    }

    private static boolean isPositive(Duration d) {
        return d != null && !d.isNegative() && !d.isZero();
    }
}
