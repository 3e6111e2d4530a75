package io.stagewise.jobs;

import io.stagewise.jobs.payments.PaymentsLedger;
import io.stagewise.jobs.payments.PaymentsWorkflow;
import io.stagewise.jobs.payments.ledger.LedgerEntry;
import io.stagewise.operators.event.CompletedEvent;
import io.stagewise.operators.event.DeadLetter;
import io.stagewise.operators.event.Event;
import io.stagewise.operators.ingest.EventDeserializer;
import io.stagewise.operators.stage.OutputRecordCheck;
import io.stagewise.operators.stage.Workflow;
import io.stagewise.sinks.kafka.CompletedEventSerializer;
import io.stagewise.sinks.kafka.DeadLetterSerializer;
import io.stagewise.sinks.kafka.ExactlyOnceKafkaSinks;
import io.stagewise.sinks.kafka.OutputRecordLimit;
import io.stagewise.sinks.kafka.RetryRecordSerializer;
import java.util.Optional;
import java.util.Properties;
import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.source.Source;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.KafkaSourceBuilder;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.kafka.clients.consumer.OffsetResetStrategy;
import org.apache.kafka.clients.producer.ProducerConfig;

/**
 * What the pipeline reads from, writes to and calls: the input source, the output, DLQ and retry
 * sinks, the optional ledger sink, and the workflow whose stages call the downstream services.
 * {@link #production} builds the Kafka (and PostgreSQL) endpoints the settings name; tests and
 * benchmarks replace any of them ({@code with*}) and call the same {@link PipelineJob#assemble}.
 *
 * <p>Delivery guarantee: the production endpoints are exactly once (offsets in checkpoints,
 * transactional Kafka sinks, two-phase-commit ledger); replaced endpoints carry their own.
 *
 * @param ledger empty when completed payments are not applied to PostgreSQL
 * @param outputCheck refuses completed events whose record {@code output} would not take; the stage
 *     engine dead-letters them (reason {@code error}) instead of failing the output sink
 */
@PublicEvolving
public record Endpoints(Source<Event, ?, ?> input, Sink<CompletedEvent> output, Sink<DeadLetter> deadLetters,
                        Sink<DeadLetter> retries, Optional<Sink<LedgerEntry>> ledger, Workflow workflow,
                        OutputRecordCheck outputCheck) {

    /** Endpoints whose output takes records of any size ({@link OutputRecordCheck#NONE}). */
    public Endpoints(Source<Event, ?, ?> input, Sink<CompletedEvent> output, Sink<DeadLetter> deadLetters,
                     Sink<DeadLetter> retries, Optional<Sink<LedgerEntry>> ledger, Workflow workflow) {
        this(input, output, deadLetters, retries, ledger, workflow, OutputRecordCheck.NONE);
    }

    /**
     * The Kafka source and sinks, the ledger when {@link PipelineSettings#ledger()} names one, and the
     * workflow {@link PipelineSettings#workflow()} names.
     *
     * @param topics the prepared topic layout ({@link PipelineJob#prepareTopics}), so the producers
     *     never refuse a dead letter or retry record the topics accept
     */
    public static Endpoints production(PipelineSettings settings, Topics.Layout topics) {
        return production(settings, topics, workflow(settings));
    }

    /** As {@link #production(PipelineSettings, Topics.Layout)} with another workflow (tests, benchmarks). */
    public static Endpoints production(PipelineSettings settings, Topics.Layout topics, Workflow workflow) {
        return new Endpoints(kafkaSource(settings), outputSink(settings, topics), dlqSink(settings, topics),
                retrySink(settings, topics),
                settings.ledger().map(l -> PaymentsLedger.sink(new PaymentsLedger.Database(l.jdbcUrl(), l.user(), l.password()),
                        settings.ledgerTransactionPrefix())),
                workflow, outputCheck(settings, topics));
    }

    /** The workflow the settings name: {@code payments} against the gateway, or {@code dedup-only} (no stages). */
    public static Workflow workflow(PipelineSettings settings) {
        switch (settings.workflow()) {
            case PAYMENTS:
                return PaymentsWorkflow.create(settings.gatewayUrl().orElseThrow(() -> new StagewiseException(
                        "the payments workflow needs --gateway-url ("
                        + StagewiseOptions.GATEWAY_URL.key() + "), or --workflow dedup-only for no stages")),
                        settings.batching().orElse(null));
            case DEDUP_ONLY:
                return Workflow.named(StagewiseOptions.WorkflowName.DEDUP_ONLY.toString()).build();
            default:
                throw new IllegalStateException("unhandled workflow " + settings.workflow());
        }
    }

    /** Reads the input and its retry topics, {@code read_committed}; offsets are part of each checkpoint. */
    public static Source<Event, ?, ?> kafkaSource(PipelineSettings settings) {
        KafkaSourceBuilder<Event> builder = KafkaSource.<Event>builder()
                .setProperties(settings.kafkaClientProperties())
                .setBootstrapServers(settings.bootstrapServers())
                .setTopics(settings.sourceTopics())
                .setGroupId(settings.groupId())
                // Without state: resume from the group's committed offsets, or read everything
                // (run refuses that unless --fresh; see PipelineLaunch). With state: the checkpoint's offsets win.
                .setStartingOffsets(OffsetsInitializer.committedOffsets(OffsetResetStrategy.EARLIEST))
                .setDeserializer(new EventDeserializer(settings.maxEventBytes()))
                .setProperty("isolation.level", "read_committed")
                .setProperty("commit.offsets.on.checkpoint", "true")
                .setProperty("client.id.prefix", settings.groupId());
        if (settings.bounded()) {
            builder.setBounded(OffsetsInitializer.latest());
        }
        return builder.build();
    }

    /**
     * The output sink; its producer's {@code max.request.size} is {@link #outputCheck}'s limit, so
     * every record the check lets through is one the producer and the topic accept.
     */
    public static Sink<CompletedEvent> outputSink(PipelineSettings settings, Topics.Layout topics) {
        Properties props = settings.kafkaClientProperties();
        int limit = outputCheck(settings, topics).limitBytes();
        props.setProperty(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, Integer.toString(limit));
        if (!props.containsKey(ProducerConfig.BATCH_SIZE_CONFIG) && limit < DEFAULT_BATCH_SIZE) {
            // A batch of small records must not outgrow the topic's limit either.
            props.setProperty(ProducerConfig.BATCH_SIZE_CONFIG, Integer.toString(limit - OutputRecordLimit.FRAMING_BYTES));
        }
        return ExactlyOnceKafkaSinks.create(settings.bootstrapServers(), settings.transactionalIdPrefix() + "-output",
                new CompletedEventSerializer(settings.outputTopic()), settings.transactionTimeout(), props);
    }

    /**
     * The output's record size limit: the output topic's {@code max.message.bytes}, or a smaller
     * {@code max.request.size} given as a Kafka client property. Checked before the output sink, by
     * the stage engine, with the sink's serializer (docs/failures.md).
     */
    public static OutputRecordLimit outputCheck(PipelineSettings settings, Topics.Layout topics) {
        String topic = settings.outputTopic();
        String requested = settings.kafkaClientProperties().getProperty(ProducerConfig.MAX_REQUEST_SIZE_CONFIG);
        try {
            if (requested != null && Integer.parseInt(requested.trim()) < topics.outputMaxMessageBytes()) {
                return new OutputRecordLimit(topic, Integer.parseInt(requested.trim()),
                        "the producer's max.request.size (--kafka-property)");
            }
            return new OutputRecordLimit(topic, topics.outputMaxMessageBytes(), "the max.message.bytes of topic '" + topic + "'");
        } catch (IllegalArgumentException e) { // NumberFormatException included
            throw new StagewiseException("Kafka client property max.request.size (--kafka-property) or the "
                    + "max.message.bytes of output topic '" + topic + "' cannot hold an output record: " + e.getMessage(), e);
        }
    }

    public static Sink<DeadLetter> dlqSink(PipelineSettings settings, Topics.Layout topics) {
        return ExactlyOnceKafkaSinks.create(settings.bootstrapServers(), settings.transactionalIdPrefix() + "-dlq",
                new DeadLetterSerializer(settings.dlqTopic()), settings.transactionTimeout(), largeRecords(settings, topics));
    }

    public static Sink<DeadLetter> retrySink(PipelineSettings settings, Topics.Layout topics) {
        return ExactlyOnceKafkaSinks.create(settings.bootstrapServers(), settings.transactionalIdPrefix() + "-retry",
                new RetryRecordSerializer(settings.inputTopic()), settings.transactionTimeout(), largeRecords(settings, topics));
    }

    /** The producer's default {@code batch.size}. */
    private static final int DEFAULT_BATCH_SIZE = 16 * 1024;

    private static Properties largeRecords(PipelineSettings settings, Topics.Layout topics) {
        Properties props = settings.kafkaClientProperties();
        props.setProperty("max.request.size", Integer.toString(topics.dlqMaxMessageBytes()));
        return props;
    }

    public Endpoints withInput(Source<Event, ?, ?> newInput) {
        return new Endpoints(newInput, output, deadLetters, retries, ledger, workflow, outputCheck);
    }

    public Endpoints withSinks(Sink<CompletedEvent> newOutput, Sink<DeadLetter> newDeadLetters, Sink<DeadLetter> newRetries) {
        return new Endpoints(input, newOutput, newDeadLetters, newRetries, ledger, workflow, outputCheck);
    }

    public Endpoints withLedger(Sink<LedgerEntry> newLedger) {
        return new Endpoints(input, output, deadLetters, retries, Optional.of(newLedger), workflow, outputCheck);
    }

    public Endpoints withWorkflow(Workflow newWorkflow) {
        return new Endpoints(input, output, deadLetters, retries, ledger, newWorkflow, outputCheck);
    }
}
