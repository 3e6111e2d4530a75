package io.stagewise.jobs.flags;

import io.stagewise.jobs.StagewiseOptions.Concurrency;
import io.stagewise.jobs.StagewiseOptions.Batching;
import io.stagewise.jobs.StagewiseOptions.Ordering;
import io.stagewise.jobs.StagewiseOptions.WorkflowName;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.configuration.Configuration;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParseResult;

/**
 * The pipeline's flags, shared by {@code stagewise run} and {@code flink run -c
 * io.stagewise.jobs.PipelineJob} (one parser, so the two cannot drift). Each flag is bound to a
 * {@code stagewise.*} or Flink option ({@link FlagBindings}); {@link #explicit} turns the ones given
 * into configuration that wins over the Flink configuration.
 */
@PublicEvolving
public final class PipelineFlags {
    @Mixin
    public KafkaFlags kafka = new KafkaFlags();

    @Mixin
    public CheckpointFlags checkpoints = new CheckpointFlags();

    @Mixin
    public RetryFlags retry = new RetryFlags();

    @Option(names = "--input-topic", description = "Input topic T (default: ${DEFAULT-VALUE}); dead letters go to T.dlq.")
    public String inputTopic;

    @Option(names = "--output-topic", description = "Output topic (default: ${DEFAULT-VALUE}).")
    public String outputTopic;

    @Option(names = "--restore", paramLabel = "latest|PATH",
            description = "Restore state: 'latest' = newest retained checkpoint in the checkpoint directory, or the path "
                    + "or URI of a checkpoint or savepoint.")
    public String restore;

    @Option(names = "--fresh",
            description = "Start without state although the checkpoint directory holds checkpoints or the consumer group "
                    + "has committed offsets: events that were in flight, backing off or in the retry ladder at the last "
                    + "checkpoint are given up, and dedup forgets every id seen before.")
    public boolean fresh;

    @Option(names = "--group-id", description = "Consumer group id (default: stagewise-<input topic>).")
    public String groupId;

    @Option(names = "--transactional-id-prefix", description = "Kafka transactional id prefix, unique per job (default: stagewise-<input topic>).")
    public String transactionalIdPrefix;

    @Option(names = "--transaction-timeout", converter = DurationConverter.class,
            description = "Kafka transaction timeout; must exceed checkpoint timeout + interval + the longest restart delay "
                    + "and not exceed the broker's transaction.max.timeout.ms (default: ${DEFAULT-VALUE}).")
    public Duration transactionTimeout;

    @Option(names = "--dedup-ttl", converter = DurationConverter.class,
            description = "How long event ids are remembered for dedup (default: ${DEFAULT-VALUE}).")
    public Duration dedupTtl;

    @Option(names = "--max-event-bytes", description = "Larger records are dead-lettered as malformed (default: ${DEFAULT-VALUE}).")
    public Integer maxEventBytes;

    @Option(names = "--workflow", converter = EnumConverters.WorkflowConverter.class,
            description = "payments (validate -> charge -> notify; needs --gateway-url) or dedup-only (default: ${DEFAULT-VALUE}).")
    public WorkflowName workflow;

    @Option(names = "--gateway-url", description = "Base URL of the payment gateway, e.g. http://127.0.0.1:8090.")
    public String gatewayUrl;

    @Option(names = "--jdbc-url", description = "PostgreSQL of the payments ledger, e.g. jdbc:postgresql://db:5432/payments; completed payments are applied there exactly once. Without it, no ledger is written.")
    public String jdbcUrl;

    @Option(names = "--jdbc-user", description = "Ledger database user (default: env STAGEWISE_JDBC_USER, or from the URL).")
    public String jdbcUser;

    @Option(names = "--jdbc-password", description = "Ledger database password (default: env STAGEWISE_JDBC_PASSWORD). Never logged.", arity = "0..1", interactive = true)
    public String jdbcPassword;

    @Option(names = "--ledger-transaction-prefix", description = "Prefix of the ledger's PostgreSQL prepared transaction ids, unique per job on the database (default: stagewise-<input topic>-ledger).")
    public String ledgerTransactionPrefix;

    @Option(names = "--call-timeout", converter = DurationConverter.class,
            description = "Timeout of one downstream call (default: ${DEFAULT-VALUE}).")
    public Duration callTimeout;

    @Option(names = "--max-in-flight", description = "Downstream calls in flight per remote stage per subtask: the fixed limit, or the adaptive limit's ceiling (default: ${DEFAULT-VALUE}).")
    public Integer maxInFlight;

    @Option(names = "--min-in-flight", description = "Floor of the adaptive in-flight limit per remote stage per subtask (default: ${DEFAULT-VALUE}).")
    public Integer minInFlight;

    @Option(names = "--concurrency", converter = EnumConverters.ConcurrencyConverter.class,
            description = "adaptive: each remote stage's in-flight limit follows its round-trip times, timeouts and 429/503 answers, between --min-in-flight and --max-in-flight; fixed: always --max-in-flight (default: ${DEFAULT-VALUE}).")
    public Concurrency concurrency;
    @Option(names = "--batching", converter = EnumConverters.BatchingConverter.class,
            description = "on: notify sends batches to POST /notifications/batch, sized from latency and backlog; off: one call per event (default: ${DEFAULT-VALUE}).")
    public Batching batching;

    @Option(names = "--batch-linger", converter = NonNegativeDurationConverter.class,
            description = "A batch goes out when full or this long after its first item (default: ${DEFAULT-VALUE}).")
    public Duration batchLinger;

    @Option(names = "--min-batch", description = "Smallest adaptive batch size (default: ${DEFAULT-VALUE}).")
    public Integer minBatch;

    @Option(names = "--max-batch", description = "Largest adaptive batch size; = --min-batch fixes the size (default: ${DEFAULT-VALUE}).")
    public Integer maxBatch;

    @Option(names = "--batch-latency-target", converter = DurationConverter.class,
            description = "Batch latency the size controller aims at (default: ${DEFAULT-VALUE}).")
    public Duration batchLatencyTarget;

    @Option(names = "--max-batches-in-flight", description = "Batches of a stage in flight at once per subtask (default: ${DEFAULT-VALUE}).")
    public Integer maxBatchesInFlight;

    @Option(names = "--ordering", converter = EnumConverters.OrderingConverter.class,
            description = "unordered, or per-key: one event per business key at a time, later events of the key wait while it runs or retries (default: ${DEFAULT-VALUE}).")
    public Ordering ordering;

    @Option(names = "--replication-factor", description = "Replication factor of the topics Stagewise creates (default: the broker's default.replication.factor).")
    public Integer replicationFactor;

    @Option(names = "--inject-failure-after", description = "Fail each subtask once after this many events (0: never), to watch recovery (default: ${DEFAULT-VALUE}).")
    public Long injectFailureAfter;

    @Option(names = "-D", paramLabel = "KEY=VALUE", mapFallbackValue = "",
            description = "A Flink or Stagewise configuration value, as flink run -D (repeatable), e.g. "
                    + "-Dstagewise.retry.multiplier=3; a flag for the same setting wins.")
    public Map<String, String> dynamicProperties = new LinkedHashMap<>();

    /** The flags given on the command line, as configuration (the flags' layer of the precedence). */
    public Configuration explicit(ParseResult parsed) {
        return FlagBindings.explicit(parsed, kafka);
    }

    /** The {@code -D} values: part of the Flink configuration layer, below the flags. */
    public Configuration dynamic() {
        return Configuration.fromMap(dynamicProperties);
    }
}
