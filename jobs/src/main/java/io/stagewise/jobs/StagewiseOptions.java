package io.stagewise.jobs;

import io.stagewise.operators.ingest.EventParser;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import io.stagewise.operators.retry.RetryLadder;
import io.stagewise.operators.stage.BatchSettings;
import io.stagewise.operators.stage.RetrySettings;
import io.stagewise.operators.stage.StageSettings;
import io.stagewise.sinks.kafka.ExactlyOnceKafkaSinks;
import java.time.Duration;
import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;

/**
 * Every tunable of the pipeline job: typed, with a default and a description. The one source of
 * truth for defaults: the flags ({@code io.stagewise.jobs.flags}) are bound to these options, and
 * each can also be set from the Flink configuration ({@code -Dstagewise.retry.multiplier=3},
 * config.yaml). Read and validated once, into {@link PipelineSettings}.
 */
@PublicEvolving
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

    public static final ConfigOption<WorkflowName> WORKFLOW = ConfigOptions.key("stagewise.workflow")
            .enumType(WorkflowName.class)
            .defaultValue(WorkflowName.PAYMENTS)
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

    public static final ConfigOption<Ordering> ORDERING = ConfigOptions.key("stagewise.ordering")
            .enumType(Ordering.class)
            .defaultValue(Ordering.UNORDERED)
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
            .withDescription("Downstream calls in flight per remote stage per subtask: the fixed limit, or the ceiling "
                    + "of the adaptive one; more input waits (backpressure).");

    public static final ConfigOption<Integer> MIN_IN_FLIGHT = ConfigOptions.key("stagewise.stage.min-in-flight")
            .intType()
            .defaultValue(StageSettings.DEFAULT_MIN_IN_FLIGHT)
            .withDescription("Floor of the adaptive in-flight limit per remote stage per subtask (1 .. max-in-flight).");

    public static final ConfigOption<Concurrency> CONCURRENCY = ConfigOptions.key("stagewise.stage.concurrency")
            .enumType(Concurrency.class)
            .defaultValue(Concurrency.of(StageSettings.DEFAULT_CONCURRENCY))
            .withDescription("'adaptive' (each remote stage's in-flight limit follows its round-trip times, timeouts "
                    + "and 429/503 answers, between min-in-flight and max-in-flight) or 'fixed' (always max-in-flight).");

    public static final ConfigOption<Batching> BATCHING = ConfigOptions.key("stagewise.batching")
            .enumType(Batching.class)
            .defaultValue(Batching.ON)
            .withDescription("'on': the payments workflow's notify stage sends batches to POST /notifications/batch, "
                    + "sized from latency and backlog; 'off': one POST /notifications per event.");

    public static final ConfigOption<Duration> BATCH_LINGER = ConfigOptions.key("stagewise.batch.linger")
            .durationType()
            .defaultValue(BatchSettings.DEFAULT_LINGER)
            .withDescription("A batch goes out when full or this long after its first item, whichever comes first.");

    public static final ConfigOption<Integer> MIN_BATCH = ConfigOptions.key("stagewise.batch.min-size")
            .intType()
            .defaultValue(BatchSettings.DEFAULT_MIN_BATCH)
            .withDescription("Smallest batch size the controller goes down to.");

    public static final ConfigOption<Integer> MAX_BATCH = ConfigOptions.key("stagewise.batch.max-size")
            .intType()
            .defaultValue(BatchSettings.DEFAULT_MAX_BATCH)
            .withDescription("Largest batch size the controller goes up to (= min-size: a fixed size). A batch's items "
                    + "hold call slots, so a batch never exceeds stagewise.stage.max-in-flight: left unset, it is at most "
                    + "that; set above it, the job is refused at start.");

    public static final ConfigOption<Duration> BATCH_LATENCY_TARGET = ConfigOptions.key("stagewise.batch.latency-target")
            .durationType()
            .defaultValue(BatchSettings.DEFAULT_LATENCY_TARGET)
            .withDescription("Batch latency the size controller aims at: it grows the size while batches are faster "
                    + "and backlog waits, and shrinks it when they are slower or items fail retryably.");

    public static final ConfigOption<Integer> MAX_BATCHES_IN_FLIGHT = ConfigOptions.key("stagewise.batch.max-in-flight")
            .intType()
            .defaultValue(BatchSettings.DEFAULT_MAX_BATCHES_IN_FLIGHT)
            .withDescription("Batches of one stage in flight at once per subtask; further items wait for a batch, so "
                    + "a slow dependency gets bigger batches rather than more requests.");

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

    public static final ConfigOption<Integer> REPLICATION_FACTOR = ConfigOptions.key("stagewise.kafka.replication-factor")
            .intType()
            .noDefaultValue()
            .withDescription("Replication factor of the topics Stagewise creates (output, DLQ, retry topics). "
                    + "Default: the broker's default.replication.factor.");

    public static final ConfigOption<Map<String, String>> KAFKA_PROPERTIES = ConfigOptions.key("stagewise.kafka.properties")
            .mapType()
            .noDefaultValue()
            .withDescription("Extra Kafka client properties for every client of the job (source, sinks, admin), "
                    + "e.g. security.protocol:SASL_SSL. Values are never logged nor shown as job parameters.");

    public static final ConfigOption<String> LEDGER_JDBC_URL = ConfigOptions.key("stagewise.ledger.jdbc-url")
            .stringType()
            .noDefaultValue()
            .withDescription("PostgreSQL JDBC URL of the payments ledger; without it no ledger is written.");

    public static final ConfigOption<String> LEDGER_JDBC_USER = ConfigOptions.key("stagewise.ledger.jdbc-user")
            .stringType()
            .noDefaultValue()
            .withDescription("Ledger database user (default: env STAGEWISE_JDBC_USER, or from the URL). The "
                    + "password comes from --jdbc-password or env STAGEWISE_JDBC_PASSWORD only, never from the "
                    + "Flink configuration (which the dashboard shows).");

    private StagewiseOptions() {}

    /** Every option above, for listing them (job parameters, the flag defaults). */
    public static List<ConfigOption<?>> all() {
        List<ConfigOption<?>> options = new ArrayList<>();
        for (Field field : StagewiseOptions.class.getFields()) {
            if (Modifier.isStatic(field.getModifiers()) && field.getType() == ConfigOption.class) {
                try {
                    options.add((ConfigOption<?>) field.get(null));
                } catch (IllegalAccessException e) {
                    throw new IllegalStateException(e);
                }
            }
        }
        return options;
    }

    /** The option with this key, if it is one of Stagewise's. */
    public static Optional<ConfigOption<?>> byKey(String key) {
        return all().stream().filter(o -> o.key().equals(key)).findFirst();
    }

    /** Values of {@link #WORKFLOW}; the configuration value is {@link #toString()}. */
    public enum WorkflowName {
        PAYMENTS("payments"),
        DEDUP_ONLY("dedup-only");

        private final String value;

        WorkflowName(String value) {
            this.value = value;
        }

        @Override
        public String toString() {
            return value;
        }
    }

    /** Values of {@link #CONCURRENCY}; the configuration value is {@link #toString()}. */
    public enum Concurrency {
        FIXED("fixed", StageSettings.Concurrency.FIXED),
        ADAPTIVE("adaptive", StageSettings.Concurrency.ADAPTIVE);

        private final String value;
        private final StageSettings.Concurrency mode;

        Concurrency(String value, StageSettings.Concurrency mode) {
            this.value = value;
            this.mode = mode;
        }

        public StageSettings.Concurrency mode() {
            return mode;
        }

        static Concurrency of(StageSettings.Concurrency mode) {
            return mode == StageSettings.Concurrency.FIXED ? FIXED : ADAPTIVE;
        }

        @Override
        public String toString() {
            return value;
        }
    }

    /** Values of {@link #BATCHING}; the configuration value is {@link #toString()}. */
    public enum Batching {
        ON("on"),
        OFF("off");

        private final String value;

        Batching(String value) {
            this.value = value;
        }

        @Override
        public String toString() {
            return value;
        }
    }

    /** Values of {@link #ORDERING}; the configuration value is {@link #toString()}. */
    public enum Ordering {
        UNORDERED("unordered"),
        PER_KEY("per-key");

        private final String value;

        Ordering(String value) {
            this.value = value;
        }

        @Override
        public String toString() {
            return value;
        }
    }
}
