package io.stagewise.jobs;


import io.stagewise.jobs.flags.FlagBindings;
import io.stagewise.jobs.flags.PipelineFlags;
import io.stagewise.jobs.payments.PaymentsLedger;
import io.stagewise.jobs.payments.ledger.LedgerEntry;
import io.stagewise.operators.event.CompletedEvent;
import io.stagewise.operators.event.Event;
import io.stagewise.operators.ingest.MalformedSplit;
import io.stagewise.operators.latency.CommitLatency;
import io.stagewise.operators.stage.StageOperator;
import io.stagewise.operators.stage.StageOperatorFactory;
import java.util.HashMap;
import java.util.Map;
import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;

/**
 * The reference pipeline: Kafka input {@code T} → malformed split → dedup and stages by event id
 * ({@link StageOperator}) → exactly-once Kafka output; dead letters (malformed, permanent, error,
 * exhausted) go, exactly once too, to {@code T.dlq}. A completed event whose output record the
 * output topic would refuse ({@link Endpoints#outputCheck}) is dead-lettered by the stage operator,
 * reason {@code error}, so the output sink never fails on one (docs/failures.md). That check adds
 * no operator and no state: uids and savepoints are unchanged.
 *
 * <p>Delivery guarantee: every distinct valid input id reaches the output topic exactly once (read
 * committed), every malformed record reaches the DLQ exactly once, across task failures and
 * restores from checkpoints or savepoints. Source offsets, dedup state and sink transactions are
 * all part of one checkpoint. On a cluster: {@code flink run -c io.stagewise.jobs.PipelineJob
 * stagewise-jobs-cluster.jar <flags of stagewise run>}. Every entry point goes through
 * {@link PipelineSettings} (validated settings), {@link #prepareTopics}, {@link Endpoints} and
 * {@link #assemble}.
 */
@PublicEvolving
public final class PipelineJob {
    private static final Logger LOG = LoggerFactory.getLogger(PipelineJob.class);

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
     * settings name when they are missing: the step before {@link Endpoints#production}.
     */
    public static Topics.Layout prepareTopics(PipelineSettings settings) {
        return Topics.prepare(settings);
    }

    /**
     * The one place the pipeline is assembled, for every entry point (launcher, {@code flink run},
     * demo, tests, benchmarks): the graph on {@code env} from validated settings and endpoints.
     * It registers the effective Stagewise settings as global job parameters (the dashboard's
     * Configuration tab) and sets nothing else on {@code env}: parallelism and checkpointing stay
     * what the caller's configuration says (see {@link FlinkSettings}).
     */
    public static void assemble(StreamExecutionEnvironment env, PipelineSettings settings, Endpoints endpoints) {
        Map<String, String> parameters = new HashMap<>(env.getConfig().getGlobalJobParameters().toMap());
        parameters.putAll(settings.jobParameters());
        env.getConfig().setGlobalJobParameters(Configuration.fromMap(parameters));

        SingleOutputStreamOperator<Event> valid = env
                .fromSource(endpoints.input(), WatermarkStrategy.noWatermarks(), "Kafka source")
                .uid(SOURCE_UID)
                .process(new MalformedSplit())
                .uid(MalformedSplit.UID)
                .name("Malformed split");

        DataStream<Event> admitted = valid;
        long failAfter = settings.injectFailureAfter();
        if (failAfter > 0) {
            admitted = admitted.map(new FailureInjector(failAfter)).uid(FailureInjector.UID).name("Failure injector");
        }

        SingleOutputStreamOperator<CompletedEvent> completed = StageOperatorFactory.apply(
                admitted,
                endpoints.workflow(), settings.stages(), endpoints.outputCheck());

        CommitLatency.measure(completed, "output", done -> done.origin == null ? 0 : done.origin.timestamp)
                .sinkTo(endpoints.output())
                .uid(OUTPUT_SINK_UID)
                .name("Output (Kafka, exactly once)");

        if (endpoints.ledger().isPresent()) {
            // Keyed by account: one account's rows on one subtask, so two subtasks never wait on
            // each other's prepared transactions (docs/payments.md, the lock trap).
            CommitLatency.measure(completed, "ledger", done -> done.origin == null ? 0 : done.origin.timestamp)
                    .map(PaymentsLedger::entry)
                    .returns(TypeInformation.of(LedgerEntry.class))
                    .uid(LEDGER_ENTRY_UID)
                    .name("Ledger entry")
                    .keyBy(entry -> entry.account, TypeInformation.of(String.class))
                    .sinkTo(endpoints.ledger().get())
                    .uid(LEDGER_SINK_UID)
                    .name("Ledger (PostgreSQL, exactly once)");
        }

        CommitLatency.measure(valid.getSideOutput(MalformedSplit.DEAD_LETTERS)
                        .union(completed.getSideOutput(StageOperator.DEAD_LETTERS)), "dlq",
                        letter -> letter.origin == null ? 0 : letter.origin.timestamp)
                .sinkTo(endpoints.deadLetters())
                .uid(DLQ_SINK_UID)
                .name("DLQ (Kafka, exactly once)");

        // The same transactional sink protocol as the output: a retry record and the state that
        // sent it commit together, at the checkpoint.
        completed.getSideOutput(StageOperator.RETRIES)
                .sinkTo(endpoints.retries())
                .uid(RETRY_SINK_UID)
                .name("Retry topics (Kafka, exactly once)");
    }

    /**
     * Entry point for {@code flink run -c io.stagewise.jobs.PipelineJob <jar> <flags of stagewise run>}:
     * parses the pipeline's flags ({@link PipelineFlags}) and runs on the submitting cluster's
     * environment. Never calls {@code System.exit} (in application mode that would stop the
     * JobManager): a user error is printed as one line, as the launcher does, and thrown as a
     * {@link StagewiseException} so the submission fails with the same message.
     */
    public static void main(String[] args) throws Exception {
        PipelineFlags flags = new PipelineFlags();
        CommandLine cli = new CommandLine(new FlinkRunCommand(flags)).setDefaultValueProvider(new FlagBindings());
        try {
            ParseResult parsed = cli.parseArgs(args);
            if (cli.isUsageHelpRequested()) {
                cli.usage(System.out);
                return;
            }
            PipelineLaunch.onCluster(flags, parsed).run();
        } catch (ParameterException e) {
            throw userError(new StagewiseException(e.getMessage(), e));
        } catch (StagewiseException e) {
            throw userError(e);
        }
    }

    private static StagewiseException userError(StagewiseException e) {
        System.err.println("stagewise: " + e.getMessage());
        LOG.error("stagewise: {}", e.getMessage());
        return e;
    }

    /** The flags of {@code flink run}: those of {@code stagewise run}, without the local dashboard. */
    @Command(name = "flink run -c io.stagewise.jobs.PipelineJob <jar>", mixinStandardHelpOptions = true,
            description = "The Stagewise pipeline on the cluster that submits it; flags as stagewise run.")
    static final class FlinkRunCommand {
        @Mixin
        final PipelineFlags flags;

        FlinkRunCommand(PipelineFlags flags) {
            this.flags = flags;
        }
    }
}
