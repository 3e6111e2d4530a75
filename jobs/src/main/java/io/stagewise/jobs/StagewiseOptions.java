package io.stagewise.jobs;

import io.stagewise.operators.ingest.EventParser;
import io.stagewise.operators.retry.RetryLadder;
import io.stagewise.operators.stage.RetrySettings;
import io.stagewise.operators.stage.StageSettings;
import io.stagewise.sinks.kafka.ExactlyOnceKafkaSinks;
import java.time.Duration;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.configuration.Configuration;

/** Every tunable of the pipeline job: typed, with a default and a description. */
public final class StagewiseOptions {
    public static final ConfigOption<String> BOOTSTRAP_SERVERS = ConfigOptions.key("stagewise.kafka.bootstrap-servers")
            .stringType()
            .defaultValue("localhost:9092")
            .withDescription("Kafka bootstrap servers of the input, output, retry and DLQ topics.");

    public static final ConfigOption<String> INPUT_TOPIC = ConfigOptions.key("stagewise.input-topic")
            .stringType()
            .defaultValue("payments")
            .withDescription("Input topic T. Its DLQ is T.dlq.");

    public static final ConfigOption<String> OUTPUT_TOPIC = ConfigOptions.key("stagewise.output-topic")
            .stringType()
            .defaultValue("payments.completed")
            .withDescription("Output topic: one record per completed event, written exactly once.");

    public static final ConfigOption<String> GROUP_ID = ConfigOptions.key("stagewise.kafka.group-id")
            .stringType()
            .noDefaultValue()
            .withDescription("Consumer group id of the source (offsets are committed on checkpoints, for "
                    + "monitoring and for a start without state). Default: stagewise-<input topic>.");

    public static final ConfigOption<String> TRANSACTIONAL_ID_PREFIX = ConfigOptions.key("stagewise.kafka.transactional-id-prefix")
            .stringType()
            .noDefaultValue()
            .withDescription("Prefix of the Kafka transactional ids of this job's sinks; must be unique per job "
                    + "on the cluster. Default: stagewise-<input topic>.");

    public static final ConfigOption<Duration> TRANSACTION_TIMEOUT = ConfigOptions.key("stagewise.kafka.transaction-timeout")
            .durationType()
            .defaultValue(ExactlyOnceKafkaSinks.DEFAULT_TRANSACTION_TIMEOUT)
            .withDescription("transaction.timeout.ms of the sinks: above checkpoint interval + duration + restart "
                    + "time, at most the broker's transaction.max.timeout.ms.");

    public static final ConfigOption<Integer> MAX_EVENT_BYTES = ConfigOptions.key("stagewise.max-event-bytes")
            .intType()
            .defaultValue(EventParser.DEFAULT_MAX_EVENT_BYTES)
            .withDescription("Records with a larger value go to the DLQ with reason malformed.");

    public static final ConfigOption<Duration> DEDUP_TTL = ConfigOptions.key("stagewise.dedup.ttl")
            .durationType()
            .defaultValue(StageSettings.DEFAULT_STATE_TTL)
            .withDescription("How long event ids (dedup) and stage records are remembered (processing time).");

    public static final ConfigOption<String> WORKFLOW = ConfigOptions.key("stagewise.workflow")
            .stringType()
            .defaultValue("payments")
            .withDescription("The workflow: 'payments' (validate -> charge -> notify, needs the gateway URL) or "
                    + "'dedup-only' (no stages: exactly-once dedup of the input into the output).");

    public static final ConfigOption<String> GATEWAY_URL = ConfigOptions.key("stagewise.gateway-url")
            .stringType()
            .noDefaultValue()
            .withDescription("Base URL of the payment gateway (POST /charges, POST /notifications).");

    public static final ConfigOption<String> LEDGER_TRANSACTION_PREFIX = ConfigOptions.key("stagewise.ledger.transaction-id-prefix")
            .stringType()
            .noDefaultValue()
            .withDescription("Prefix of the ledger sink's PostgreSQL prepared transaction ids; unique per job on "
                    + "the database. Default: stagewise-<input topic>-ledger.");

    public static final ConfigOption<Integer> RETRY_TOPICS = ConfigOptions.key("stagewise.retry-topics.count")
            .intType()
            .defaultValue(RetryLadder.DEFAULT.steps())
            .withDescription("Retry topics T.retry.1..N after the in-operator attempts (0: exhausted events go to the DLQ at once).");

    public static final ConfigOption<Duration> RETRY_TOPICS_INITIAL_DELAY = ConfigOptions.key("stagewise.retry-topics.initial-delay")
            .durationType()
            .defaultValue(RetryLadder.DEFAULT.delay(1))
            .withDescription("Delay of T.retry.1; step n waits initial-delay x multiplier^(n-1).");

    public static final ConfigOption<Double> RETRY_TOPICS_MULTIPLIER = ConfigOptions.key("stagewise.retry-topics.multiplier")
            .doubleType()
            .defaultValue(4.0)
            .withDescription("Delay multiplier between retry topics (>= 2).");

    public static final ConfigOption<String> ORDERING = ConfigOptions.key("stagewise.ordering")
            .stringType()
            .defaultValue("unordered")
            .withDescription("'unordered' (events of a key run concurrently) or 'per-key' (one event per business "
                    + "key at a time: later events of the key wait in keyed state while it runs or waits in the "
                    + "retry ladder; other keys are not held).");

    public static final ConfigOption<Duration> CALL_TIMEOUT = ConfigOptions.key("stagewise.stage.call-timeout")
            .durationType()
            .defaultValue(StageSettings.DEFAULT_CALL_TIMEOUT)
            .withDescription("How long a downstream call may take before it counts as a (retryable) timeout.");

    public static final ConfigOption<Integer> MAX_IN_FLIGHT = ConfigOptions.key("stagewise.stage.max-in-flight")
            .intType()
            .defaultValue(StageSettings.DEFAULT_MAX_IN_FLIGHT)
            .withDescription("Downstream calls in flight per subtask; more input waits (backpressure).");

    public static final ConfigOption<Integer> RETRY_ATTEMPTS = ConfigOptions.key("stagewise.retry.attempts")
            .intType()
            .defaultValue(RetrySettings.DEFAULTS.maxAttempts())
            .withDescription("In-operator attempts of a stage before a retryable failure leaves the operator.");

    public static final ConfigOption<Duration> RETRY_INITIAL_BACKOFF = ConfigOptions.key("stagewise.retry.initial-backoff")
            .durationType()
            .defaultValue(RetrySettings.DEFAULTS.initialBackoff())
            .withDescription("Backoff before the second in-operator attempt; then x multiplier, with jitter.");

    public static final ConfigOption<Double> RETRY_MULTIPLIER = ConfigOptions.key("stagewise.retry.multiplier")
            .doubleType()
            .defaultValue(RetrySettings.DEFAULTS.multiplier())
            .withDescription("Backoff multiplier of in-operator retries (>= 1).");

    public static final ConfigOption<Duration> RETRY_MAX_BACKOFF = ConfigOptions.key("stagewise.retry.max-backoff")
            .durationType()
            .defaultValue(RetrySettings.DEFAULTS.maxBackoff())
            .withDescription("Cap of the in-operator backoff.");

    public static final ConfigOption<Boolean> BOUNDED = ConfigOptions.key("stagewise.bounded")
            .booleanType()
            .defaultValue(false)
            .withDescription("Read the input up to its end offsets at start, then finish (benchmarks, tests).");

    public static final ConfigOption<Long> INJECT_FAILURE_AFTER = ConfigOptions.key("stagewise.inject-failure-after")
            .longType()
            .defaultValue(0L)
            .withDescription("If > 0: each subtask throws once, on its first attempt, after this many events "
                    + "and at least one completed checkpoint, to show recovery. 0 disables it.");

    private StagewiseOptions() {}

    public static String groupId(Configuration conf) {
        return conf.getOptional(GROUP_ID).orElse("stagewise-" + conf.get(INPUT_TOPIC));
    }

    public static String transactionalIdPrefix(Configuration conf) {
        return conf.getOptional(TRANSACTIONAL_ID_PREFIX).orElse("stagewise-" + conf.get(INPUT_TOPIC));
    }

    /** The stage engine's settings from these options (validated). */
    public static StageSettings stageSettings(Configuration conf) {
        RetrySettings retry = RetrySettings.builder()
                .maxAttempts(conf.get(RETRY_ATTEMPTS))
                .initialBackoff(conf.get(RETRY_INITIAL_BACKOFF))
                .multiplier(conf.get(RETRY_MULTIPLIER))
                .maxBackoff(conf.get(RETRY_MAX_BACKOFF))
                .build();
        String ordering = conf.get(ORDERING);
        if (!ordering.equals("unordered") && !ordering.equals("per-key")) {
            throw new IllegalArgumentException("ordering must be 'unordered' or 'per-key', got '" + ordering + "'");
        }
        return new StageSettings(retry, conf.get(CALL_TIMEOUT), conf.get(MAX_IN_FLIGHT), conf.get(DEDUP_TTL), retryLadder(conf),
                ordering.equals("per-key"));
    }

    /** The retry topic ladder from these options (validated). */
    public static RetryLadder retryLadder(Configuration conf) {
        return new RetryLadder(conf.get(RETRY_TOPICS), conf.get(RETRY_TOPICS_INITIAL_DELAY), conf.get(RETRY_TOPICS_MULTIPLIER));
    }

    public static String ledgerTransactionPrefix(Configuration conf) {
        return conf.getOptional(LEDGER_TRANSACTION_PREFIX).orElse("stagewise-" + conf.get(INPUT_TOPIC) + "-ledger");
    }

    public static String dlqTopic(Configuration conf) {
        return Topics.dlq(conf.get(INPUT_TOPIC));
    }
}
