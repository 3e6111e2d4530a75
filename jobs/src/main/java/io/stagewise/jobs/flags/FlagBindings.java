package io.stagewise.jobs.flags;

import io.stagewise.jobs.StagewiseOptions;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.apache.flink.annotation.Internal;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.CoreOptions;
import org.apache.flink.util.TimeUtils;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.ParseResult;

/**
 * Binds flags to the typed options they set: one spelling and one default per setting. The
 * default shown in help ({@code ${DEFAULT-VALUE}}) is the option's own default; a flag reaches
 * the configuration only when given on the command line ({@link #explicit}), so without it the
 * Flink configuration decides (docs/operations.md, settings precedence).
 */
@Internal
public final class FlagBindings implements CommandLine.IDefaultValueProvider {
    private static final Map<String, ConfigOption<?>> BINDINGS = new LinkedHashMap<>();

    static {
        bind("--bootstrap-servers", StagewiseOptions.BOOTSTRAP_SERVERS);
        bind("--input-topic", StagewiseOptions.INPUT_TOPIC);
        bind("--output-topic", StagewiseOptions.OUTPUT_TOPIC);
        bind("--group-id", StagewiseOptions.GROUP_ID);
        bind("--transactional-id-prefix", StagewiseOptions.TRANSACTIONAL_ID_PREFIX);
        bind("--transaction-timeout", StagewiseOptions.TRANSACTION_TIMEOUT);
        bind("--dedup-ttl", StagewiseOptions.DEDUP_TTL);
        bind("--max-event-bytes", StagewiseOptions.MAX_EVENT_BYTES);
        bind("--workflow", StagewiseOptions.WORKFLOW);
        bind("--gateway-url", StagewiseOptions.GATEWAY_URL);
        bind("--jdbc-url", StagewiseOptions.LEDGER_JDBC_URL);
        bind("--jdbc-user", StagewiseOptions.LEDGER_JDBC_USER);
        bind("--ledger-transaction-prefix", StagewiseOptions.LEDGER_TRANSACTION_PREFIX);
        bind("--call-timeout", StagewiseOptions.CALL_TIMEOUT);
        bind("--max-in-flight", StagewiseOptions.MAX_IN_FLIGHT);
        bind("--min-in-flight", StagewiseOptions.MIN_IN_FLIGHT);
        bind("--concurrency", StagewiseOptions.CONCURRENCY);
        bind("--batching", StagewiseOptions.BATCHING);
        bind("--batch-linger", StagewiseOptions.BATCH_LINGER);
        bind("--min-batch", StagewiseOptions.MIN_BATCH);
        bind("--max-batch", StagewiseOptions.MAX_BATCH);
        bind("--batch-latency-target", StagewiseOptions.BATCH_LATENCY_TARGET);
        bind("--max-batches-in-flight", StagewiseOptions.MAX_BATCHES_IN_FLIGHT);
        bind("--retry-attempts", StagewiseOptions.RETRY_ATTEMPTS);
        bind("--retry-initial-backoff", StagewiseOptions.RETRY_INITIAL_BACKOFF);
        bind("--retry-topics", StagewiseOptions.RETRY_TOPICS);
        bind("--retry-topic-delay", StagewiseOptions.RETRY_TOPICS_INITIAL_DELAY);
        bind("--retry-topic-multiplier", StagewiseOptions.RETRY_TOPICS_MULTIPLIER);
        bind("--ordering", StagewiseOptions.ORDERING);
        bind("--inject-failure-after", StagewiseOptions.INJECT_FAILURE_AFTER);
        bind("--replication-factor", StagewiseOptions.REPLICATION_FACTOR);
        bind("--checkpoint-dir", CheckpointingOptions.CHECKPOINTS_DIRECTORY);
        bind("--checkpoint-interval", CheckpointingOptions.CHECKPOINTING_INTERVAL);
        bind("--parallelism", CoreOptions.DEFAULT_PARALLELISM);
    }

    private static void bind(String flag, ConfigOption<?> option) {
        BINDINGS.put(flag, option);
    }

    /** The option a flag sets, if it is bound. */
    public static Optional<ConfigOption<?>> option(String flag) {
        return Optional.ofNullable(BINDINGS.get(flag));
    }

    /**
     * The default of a bound Stagewise option, for help and for the flag's field. Flink's own
     * options have none here: their default is the Flink configuration's.
     */
    @Override
    public String defaultValue(ArgSpec argSpec) {
        if (!(argSpec instanceof OptionSpec spec) || argSpec.defaultValue() != null) {
            return null; // the command's own default (demo, bench) stays
        }
        ConfigOption<?> option = BINDINGS.get(spec.longestName());
        if (option == null || !option.key().startsWith("stagewise.") || !option.hasDefaultValue()) {
            return null;
        }
        Object value = option.defaultValue();
        return value instanceof Duration d ? TimeUtils.formatWithHighestUnit(d) : value.toString();
    }

    /**
     * The bound flags given on the command line, as configuration; {@code --kafka-property} and
     * {@code --kafka-properties} together become {@link StagewiseOptions#KAFKA_PROPERTIES}.
     */
    @SuppressWarnings({"unchecked", "rawtypes"})
    public static Configuration explicit(ParseResult parsed, KafkaFlags kafka) {
        Configuration conf = new Configuration();
        for (OptionSpec matched : parsed.matchedOptions()) {
            ConfigOption option = BINDINGS.get(matched.longestName());
            if (option != null) {
                conf.set(option, matched.getValue());
            }
        }
        if (kafka != null && (parsed.hasMatchedOption("--kafka-property") || parsed.hasMatchedOption("--kafka-properties"))) {
            conf.set(StagewiseOptions.KAFKA_PROPERTIES, kafka.clientPropertyMap());
        }
        return conf;
    }
}
