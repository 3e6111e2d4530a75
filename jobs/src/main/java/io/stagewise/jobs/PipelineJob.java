package io.stagewise.jobs;


import io.stagewise.operators.event.CompletedEvent;
import io.stagewise.operators.event.DeadLetter;
import io.stagewise.operators.event.Event;
import io.stagewise.operators.ingest.EventDeserializer;
import io.stagewise.operators.ingest.MalformedSplit;
import io.stagewise.operators.latency.CommitLatency;
import io.stagewise.operators.stage.StageOperator;
import io.stagewise.operators.stage.StageOperatorFactory;
import io.stagewise.operators.stage.Workflow;
import io.stagewise.jobs.payments.PaymentsLedger;
import io.stagewise.jobs.payments.PaymentsWorkflow;
import io.stagewise.jobs.payments.ledger.LedgerEntry;
import io.stagewise.sinks.kafka.CompletedEventSerializer;
import io.stagewise.sinks.kafka.DeadLetterSerializer;
import io.stagewise.sinks.kafka.RetryRecordSerializer;
import java.util.ArrayList;
import java.util.List;
import io.stagewise.sinks.kafka.ExactlyOnceKafkaSinks;
import java.util.Properties;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.source.Source;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.KafkaSourceBuilder;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.clients.consumer.OffsetResetStrategy;
import picocli.CommandLine;

/**
 * The reference pipeline: Kafka input {@code T} → malformed split → dedup and stages by event id
 * ({@link StageOperator}) → exactly-once Kafka output; dead letters (malformed, permanent, error,
 * exhausted) go, exactly once too, to {@code T.dlq}.
 *
 * <p>Delivery guarantee: every distinct valid input id reaches the output topic exactly once (read
 * committed), every malformed record reaches the DLQ exactly once, across task failures and
 * restores from checkpoints or savepoints. Source offsets, dedup state and sink transactions are
 * all part of one checkpoint. On a cluster: {@code flink run -c io.stagewise.jobs.PipelineJob
 * stagewise-jobs-cluster.jar <flags of stagewise run>}.
 */
public final class PipelineJob {
    public static final String SOURCE_UID = "stagewise-kafka-source";
    public static final String STAGES_UID = StageOperator.UID;
    public static final String OUTPUT_SINK_UID = "stagewise-output-sink";
    public static final String DLQ_SINK_UID = "stagewise-dlq-sink";
    public static final String RETRY_SINK_UID = "stagewise-retry-sink";
    public static final String LEDGER_ENTRY_UID = "stagewise-ledger-entry";
    public static final String LEDGER_SINK_UID = "stagewise-ledger-sink";

    private PipelineJob() {}

    /**
     * Checks the broker and the input topic, and creates the output, DLQ and retry topics the
     * options name when they are missing; returns the DLQ's {@code max.message.bytes}.
     */
    public static int prepareTopics(Configuration options) {
        String input = options.get(StagewiseOptions.INPUT_TOPIC);
        return Topics.prepare(options.get(StagewiseOptions.BOOTSTRAP_SERVERS), input,
                options.get(StagewiseOptions.OUTPUT_TOPIC), StagewiseOptions.retryLadder(options).topics(input));
    }

    /** The input topic and its retry topics: the source reads them all. */
    static List<String> topics(Configuration options) {
        List<String> topics = new ArrayList<>();
        topics.add(options.get(StagewiseOptions.INPUT_TOPIC));
        topics.addAll(StagewiseOptions.retryLadder(options).topics(options.get(StagewiseOptions.INPUT_TOPIC)));
        return topics;
    }

    /** Where the pipeline reads from. */
    public record Sources(Source<Event, ?, ?> input) {
        public static Sources kafka(Configuration options) {
            KafkaSourceBuilder<Event> builder = KafkaSource.<Event>builder()
                    .setBootstrapServers(options.get(StagewiseOptions.BOOTSTRAP_SERVERS))
                    .setTopics(topics(options))
                    .setGroupId(StagewiseOptions.groupId(options))
                    // Without state: resume from the group's committed offsets, or read everything.
                    // With state (restore): the offsets in the checkpoint win.
                    .setStartingOffsets(OffsetsInitializer.committedOffsets(OffsetResetStrategy.EARLIEST))
                    .setDeserializer(new EventDeserializer(options.get(StagewiseOptions.MAX_EVENT_BYTES)))
                    .setProperty("isolation.level", "read_committed")
                    .setProperty("commit.offsets.on.checkpoint", "true")
                    .setProperty("client.id.prefix", StagewiseOptions.groupId(options));
            if (options.get(StagewiseOptions.BOUNDED)) {
                builder.setBounded(OffsetsInitializer.latest());
            }
            return new Sources(builder.build());
        }
    }

    /** Where the pipeline writes to; {@code ledger} is null when completed payments are not applied to PostgreSQL. */
    public record Sinks(Sink<CompletedEvent> output, Sink<DeadLetter> deadLetters, Sink<DeadLetter> retries,
                        Sink<LedgerEntry> ledger) {
        /** The same sinks, plus the payments ledger. */
        public Sinks withLedger(Sink<LedgerEntry> ledgerSink) {
            return new Sinks(output, deadLetters, retries, ledgerSink);
        }

        /**
         * @param dlqMaxMessageBytes the DLQ topic's {@code max.message.bytes} (from {@link Topics#prepare}),
         *     so the producer never refuses a dead letter the topic accepts
         */
        public static Sinks kafka(Configuration options, int dlqMaxMessageBytes) {
            String bootstrap = options.get(StagewiseOptions.BOOTSTRAP_SERVERS);
            String prefix = StagewiseOptions.transactionalIdPrefix(options);
            Properties output = new Properties();
            Properties dlq = new Properties();
            dlq.setProperty("max.request.size", Integer.toString(dlqMaxMessageBytes));
            return new Sinks(
                    ExactlyOnceKafkaSinks.create(bootstrap, prefix + "-output",
                            new CompletedEventSerializer(options.get(StagewiseOptions.OUTPUT_TOPIC)),
                            options.get(StagewiseOptions.TRANSACTION_TIMEOUT), output),
                    ExactlyOnceKafkaSinks.create(bootstrap, prefix + "-dlq",
                            new DeadLetterSerializer(StagewiseOptions.dlqTopic(options)),
                            options.get(StagewiseOptions.TRANSACTION_TIMEOUT), dlq),
                    ExactlyOnceKafkaSinks.create(bootstrap, prefix + "-retry",
                            new RetryRecordSerializer(options.get(StagewiseOptions.INPUT_TOPIC)),
                            options.get(StagewiseOptions.TRANSACTION_TIMEOUT), dlq),
                    null);
        }
    }

    /** The workflow the options name: {@code payments} (needs the gateway URL) or {@code dedup-only}. */
    public static Workflow workflow(Configuration options) {
        String name = options.get(StagewiseOptions.WORKFLOW);
        switch (name) {
            case PaymentsWorkflow.NAME:
                String url = options.getOptional(StagewiseOptions.GATEWAY_URL).orElseThrow(() -> new StagewiseException(
                        "the payments workflow needs --gateway-url (or --workflow dedup-only for no stages)"));
                return PaymentsWorkflow.create(url);
            case "dedup-only":
                return Workflow.named("dedup-only").build();
            default:
                throw new StagewiseException("unknown workflow '" + name + "'; use payments or dedup-only");
        }
    }

    /** Builds the pipeline on {@code env}; tests call this with their own sources, sinks and workflows. */
    public static void build(StreamExecutionEnvironment env, Sources sources, Sinks sinks, Workflow workflow,
                             Configuration options) {
        SingleOutputStreamOperator<Event> valid = env
                .fromSource(sources.input(), WatermarkStrategy.noWatermarks(), "Kafka source")
                .uid(SOURCE_UID)
                .process(new MalformedSplit())
                .uid(MalformedSplit.UID)
                .name("Malformed split");

        DataStream<Event> admitted = valid;
        long failAfter = options.get(StagewiseOptions.INJECT_FAILURE_AFTER);
        if (failAfter > 0) {
            admitted = admitted.map(new FailureInjector(failAfter)).uid(FailureInjector.UID).name("Failure injector");
        }

        SingleOutputStreamOperator<CompletedEvent> completed = StageOperatorFactory.apply(
                admitted,
                workflow, StagewiseOptions.stageSettings(options));

        CommitLatency.measure(completed, "output", done -> done.origin == null ? 0 : done.origin.timestamp)
                .sinkTo(sinks.output())
                .uid(OUTPUT_SINK_UID)
                .name("Output (Kafka, exactly once)");

        if (sinks.ledger() != null) {
            // Keyed by account: one account's rows on one subtask, so two subtasks never wait on
            // each other's prepared transactions (docs/payments.md, the lock trap).
            CommitLatency.measure(completed, "ledger", done -> done.origin == null ? 0 : done.origin.timestamp)
                    .map(PaymentsLedger::entry)
                    .returns(TypeInformation.of(LedgerEntry.class))
                    .uid(LEDGER_ENTRY_UID)
                    .name("Ledger entry")
                    .keyBy(entry -> entry.account, TypeInformation.of(String.class))
                    .sinkTo(sinks.ledger())
                    .uid(LEDGER_SINK_UID)
                    .name("Ledger (PostgreSQL, exactly once)");
        }

        CommitLatency.measure(valid.getSideOutput(MalformedSplit.DEAD_LETTERS)
                        .union(completed.getSideOutput(StageOperator.DEAD_LETTERS)), "dlq",
                        letter -> letter.origin == null ? 0 : letter.origin.timestamp)
                .sinkTo(sinks.deadLetters())
                .uid(DLQ_SINK_UID)
                .name("DLQ (Kafka, exactly once)");

        // The same transactional sink protocol as the output: a retry record and the state that
        // sent it commit together, at the checkpoint.
        completed.getSideOutput(StageOperator.RETRIES)
                .sinkTo(sinks.retries())
                .uid(RETRY_SINK_UID)
                .name("Retry topics (Kafka, exactly once)");
    }

    /** Entry point for {@code flink run}: the flags of {@code stagewise run}, on the cluster's environment. */
    public static void main(String[] args) {
        int exit = new CommandLine(RunCommand.onCluster()).execute(args);
        if (exit != 0) {
            System.exit(exit);
        }
    }
}
