package io.stagewise.cli;

import io.stagewise.jobs.StagewiseOptions.Concurrency;
import io.stagewise.jobs.flags.DurationConverter;
import io.stagewise.jobs.flags.EnumConverters;
import io.stagewise.jobs.flags.NonNegativeDurationConverter;
import io.stagewise.jobs.StagewiseException;
import io.stagewise.jobs.Topics;
import io.stagewise.bench.BatchingBenchmark;
import io.stagewise.bench.InlineRetryJob;
import io.stagewise.bench.IsolationBenchmark;
import io.stagewise.bench.PipelineBenchmark;
import io.stagewise.bench.ReconcileBenchmark;
import io.stagewise.bench.StageBenchmark;
import io.stagewise.bench.StateBenchmark;
import io.stagewise.testkit.PaymentGenerator;
import io.stagewise.testkit.Directories;
import io.stagewise.testkit.EmbeddedKafka;
import io.stagewise.operators.retry.RetryLadder;
import io.stagewise.operators.stage.StageSettings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code stagewise bench [pipeline|stages|isolation|peer|state|latency]}: throughput measurements on an embedded broker, in one
 * process, rounds interleaved, medians.
 *
 * <ul>
 *   <li>{@code pipeline} (also plain {@code bench}): the pipeline against a bare exactly-once Flink
 *       job, same events; prints both and the ratio.
 *   <li>{@code stages}: the stage engine, see {@link StageBenchmark}.
 *   <li>{@code isolation}: healthy throughput while some payments always fail, retry ladder against
 *       in-line retry, see {@link IsolationBenchmark}.
 *   <li>{@code batching}: adaptive batch size against fixed sizes, see {@link BatchingBenchmark}.
 *   <li>{@code reconcile}: ids/s of the reconcile job at parallelism 1 and 2, with the peak heap of
 *       the JVM running it, see {@link ReconcileBenchmark}.
 *   <li>{@code peer}: the pipeline against a Kafka Streams exactly-once application doing the same job,
 *       each in its own JVM; events/s and app CPU, see {@link BenchPeerCommand}.
 *   <li>{@code state}: checkpoint bytes per remembered event id, full and incremental RocksDB, see
 *       {@link StateBenchmark}.
 *   <li>{@code latency}: end-to-end latency at several checkpoint intervals, see {@link BenchLatencyCommand}.
 * </ul>
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Measure throughput. Suites: 'pipeline' (the default when none is named) compares the pipeline"
                + " with a bare exactly-once Kafka-to-Kafka Flink job; 'stages' measures the stage engine (local stages"
                + " against pass-through, and remote stages against the real gateway at several in-flight limits);"
                + " 'isolation' measures healthy throughput while some payments always fail, Stagewise's retry ladder"
                + " against a Flink job that retries in line; 'peer' compares the pipeline with a Kafka Streams"
                + " exactly_once_v2 application doing the same job (events/s and app CPU); 'batching' compares"
                + " reactive batching with fixed batch sizes under fast, slow, saturating and stepping gateways;"
                + " 'state' measures checkpoint bytes per remembered event id; 'latency' end-to-end latency at several"
                + " checkpoint intervals; 'reconcile' ids/s of the reconcile job and the peak heap of its JVM.",
        subcommands = {BenchCommand.Pipeline.class, BenchCommand.Stages.class, BenchCommand.Isolation.class,
                BenchCommand.Batching.class, BenchCommand.Reconcile.class, BenchPeerCommand.class, BenchCommand.State.class,
                BenchLatencyCommand.class})
public final class BenchCommand implements Callable<Integer> {
    @Mixin
    PipelineFlags flags = new PipelineFlags();

    @Override
    public Integer call() throws Exception {
        return runPipeline(flags);
    }

    /** Flags of the {@code pipeline} suite, also accepted by plain {@code stagewise bench}. */
    public static final class PipelineFlags {
        @Mixin
        ProduceCommand.GeneratorFlags generator = new ProduceCommand.GeneratorFlags();

        @Option(names = "--rounds", defaultValue = "3", description = "Runs of each job, interleaved; the median counts (default: ${DEFAULT-VALUE}).")
        int rounds;

        @Option(names = "--parallelism", defaultValue = "2", description = "Parallelism of both jobs (default: ${DEFAULT-VALUE}).")
        int parallelism;

        @Option(names = "--checkpoint-interval", defaultValue = "2s", converter = DurationConverter.class,
                description = "Checkpoint interval of both jobs (default: ${DEFAULT-VALUE}).")
        Duration checkpointInterval;
    }

    /** {@code stagewise bench pipeline}: the same as plain {@code stagewise bench}. */
    @Command(name = "pipeline", mixinStandardHelpOptions = true,
            description = "Measure pipeline throughput against a bare exactly-once Kafka-to-Kafka Flink job.")
    static final class Pipeline implements Callable<Integer> {
        @Mixin
        PipelineFlags flags = new PipelineFlags();

        @Override
        public Integer call() throws Exception {
            return runPipeline(flags);
        }
    }

    /** {@code stagewise bench stages}: {@link StageBenchmark}. */
    @Command(name = "stages", mixinStandardHelpOptions = true,
            description = "Measure the stage engine: (a) local stages (validate, enrich, route) against no stages"
                    + " (dedup-only); (b) the payments workflow against the real gateway (idempotency keys in an embedded"
                    + " PostgreSQL, added latency) at each in-flight limit. One broker, one generated input, rounds"
                    + " interleaved, medians; every run is checked (all payments completed, each charged once).")
    static final class Stages implements Callable<Integer> {
        @Option(names = "--events", defaultValue = "100000",
                description = "Records of part (a), duplicates and malformed ones included (default: ${DEFAULT-VALUE}).")
        int events;

        @Option(names = "--in-flight", split = ",", defaultValue = "1,10,100", paramLabel = "N",
                description = "In-flight limits per remote stage (stagewise.stage.max-in-flight) of part (b) (default: ${DEFAULT-VALUE}).")
        List<Integer> inFlight = new ArrayList<>();

        @Option(names = "--concurrency", split = ",", defaultValue = "fixed,adaptive", paramLabel = "MODE",
                converter = EnumConverters.ConcurrencyConverter.class,
                description = "In-flight limit modes (stagewise.stage.concurrency) measured at each --in-flight value above 1 "
                        + "in part (b) (default: ${DEFAULT-VALUE}).")
        List<Concurrency> concurrency = new ArrayList<>();

        @Option(names = "--remote-events", split = ",", defaultValue = "200,2000,10000", paramLabel = "N",
                description = "Records of part (b), one count per --in-flight value, so each run takes some seconds "
                        + "(default: ${DEFAULT-VALUE}).")
        List<Integer> remoteEvents = new ArrayList<>();

        @Option(names = "--gateway-latency", defaultValue = "20ms", converter = NonNegativeDurationConverter.class,
                description = "Latency the gateway adds to every call in part (b) (default: ${DEFAULT-VALUE}).")
        Duration gatewayLatency;

        @Option(names = "--rounds", defaultValue = "3", description = "Runs of each configuration, interleaved; the median counts (default: ${DEFAULT-VALUE}).")
        int rounds;

        @Option(names = "--warmup-rounds", defaultValue = "1",
                description = "Uncounted runs of the part (a) jobs before the rounds, for the JIT (default: ${DEFAULT-VALUE}).")
        int warmupRounds;

        @Option(names = "--parallelism", defaultValue = "2", description = "Parallelism of the part (a) jobs (default: ${DEFAULT-VALUE}).")
        int parallelism;

        @Option(names = "--remote-parallelism", defaultValue = "1",
                description = "Parallelism of the part (b) jobs; calls in flight are per subtask (default: ${DEFAULT-VALUE}).")
        int remoteParallelism;

        @Option(names = "--checkpoint-interval", defaultValue = "2s", converter = DurationConverter.class,
                description = "Checkpoint interval of every job (default: ${DEFAULT-VALUE}).")
        Duration checkpointInterval;

        @Option(names = "--duplicate-rate", defaultValue = "0.05", description = "Share of records that repeat an earlier event (default: ${DEFAULT-VALUE}).")
        double duplicateRate;

        @Option(names = "--malformed-rate", defaultValue = "0.001", description = "Share of malformed records (default: ${DEFAULT-VALUE}).")
        double malformedRate;

        @Mixin
        InputFlags input = new InputFlags();

        @Override
        public Integer call() throws Exception {
            PaymentGenerator.Settings generator = input.settings(events, duplicateRate, malformedRate);
            StageBenchmark.run(new StageBenchmark.Settings(generator, events, rounds, warmupRounds, parallelism, remoteParallelism,
                    inFlight, remoteEvents, gatewayLatency, checkpointInterval, concurrency), System.out);
            return 0;
        }
    }

    /** {@code stagewise bench isolation}: {@link IsolationBenchmark}. */
    @Command(name = "isolation", mixinStandardHelpOptions = true,
            description = "Measure failure isolation: healthy payments/s of the payments workflow against the gateway"
                    + " with no failures and with a share of payments whose charge always answers 503, for Stagewise"
                    + " (in-operator retries, then the retry ladder) and for a plain Flink job retrying in line"
                    + " (AsyncDataStream.orderedWaitWithRetry). One broker, one generated input, rounds interleaved,"
                    + " medians; the clock stops when the last healthy payment is committed in the output.")
    static final class Isolation implements Callable<Integer> {
        @Option(names = "--events", defaultValue = "4000",
                description = "Payments in the input, none duplicate or malformed (default: ${DEFAULT-VALUE}).")
        int events;

        @Option(names = "--failing-share", defaultValue = "0.1",
                description = "Share of payments whose every charge request is answered 503 in the failing runs"
                        + " (default: ${DEFAULT-VALUE}).")
        double failingShare;

        @Option(names = "--gateway-latency", defaultValue = "5ms", converter = NonNegativeDurationConverter.class,
                description = "Latency the gateway adds to every call (default: ${DEFAULT-VALUE}).")
        Duration gatewayLatency;

        @Option(names = "--in-flight", defaultValue = "" + StageSettings.DEFAULT_MAX_IN_FLIGHT,
                description = "Stagewise's stagewise.stage.max-in-flight, and the in-line async operator's capacity"
                        + " (default: ${DEFAULT-VALUE}).")
        int inFlight;

        @Option(names = "--parallelism", defaultValue = "1",
                description = "Parallelism of every job (default: ${DEFAULT-VALUE}).")
        int parallelism;

        @Option(names = "--rounds", defaultValue = "3",
                description = "Runs of each case, interleaved; the median counts (default: ${DEFAULT-VALUE}).")
        int rounds;

        @Option(names = "--warmup-rounds", defaultValue = "1",
                description = "Uncounted runs of the two no-failure cases before the rounds, for the JIT"
                        + " (default: ${DEFAULT-VALUE}).")
        int warmupRounds;

        @Option(names = "--checkpoint-interval", defaultValue = "1s", converter = DurationConverter.class,
                description = "Checkpoint interval of every job: output commits at checkpoints"
                        + " (default: ${DEFAULT-VALUE}).")
        Duration checkpointInterval;

        @Option(names = "--time-cap", defaultValue = "30s", converter = DurationConverter.class,
                description = "Longest run; a run stopped by it counts the healthy payments committed by then"
                        + " (default: ${DEFAULT-VALUE}).")
        Duration timeCap;

        @Option(names = "--retry-topics", defaultValue = "2",
                description = "Stagewise retry topics (stagewise.retry-topics.count) (default: ${DEFAULT-VALUE}).")
        int retryTopics;

        @Option(names = "--retry-topic-delay", defaultValue = "1s", converter = DurationConverter.class,
                description = "Delay of the first retry topic (default: ${DEFAULT-VALUE}).")
        Duration retryTopicsInitialDelay;

        @Option(names = "--retry-topic-multiplier", defaultValue = "4",
                description = "Delay multiplier between retry topics (default: ${DEFAULT-VALUE}).")
        double retryTopicsMultiplier;

        @Option(names = "--inline-retries", defaultValue = "8",
                description = "In-line retries after the first call (Flink's maxAttempts) (default: ${DEFAULT-VALUE}).")
        int inlineRetries;

        @Option(names = "--inline-initial-delay", defaultValue = "100ms", converter = DurationConverter.class,
                description = "In-line delay before the first retry (default: ${DEFAULT-VALUE}).")
        Duration inlineInitialDelay;

        @Option(names = "--inline-max-delay", defaultValue = "1s", converter = DurationConverter.class,
                description = "Cap of the in-line delay (default: ${DEFAULT-VALUE}).")
        Duration inlineMaxDelay;

        @Option(names = "--inline-multiplier", defaultValue = "2",
                description = "In-line delay multiplier (default: ${DEFAULT-VALUE}).")
        double inlineMultiplier;

        @Mixin
        InputFlags input = new InputFlags();

        @Override
        public Integer call() throws Exception {
            if (events < 1) {
                throw new StagewiseException("--events must be >= 1, got " + events);
            }
            RetryLadder ladder;
            try {
                ladder = new RetryLadder(retryTopics, retryTopicsInitialDelay, retryTopicsMultiplier);
            } catch (IllegalArgumentException e) {
                throw new StagewiseException(e.getMessage());
            }
            InlineRetryJob.Settings inline = new InlineRetryJob.Settings(inFlight, inlineRetries, inlineInitialDelay,
                    inlineMaxDelay, inlineMultiplier, StageSettings.DEFAULT_CALL_TIMEOUT);
            IsolationBenchmark.run(new IsolationBenchmark.Settings(input.settings(events, 0, 0),
                    failingShare, gatewayLatency, inFlight, parallelism, rounds, warmupRounds, checkpointInterval, timeCap,
                    ladder, inline), System.out);
            return 0;
        }
    }

    /** {@code stagewise bench batching}: {@link BatchingBenchmark}. */
    @Command(name = "batching", mixinStandardHelpOptions = true,
            description = "Measure reactive batching: payments/s and retry rate of a batched notify stage against the"
                    + " gateway's POST /notifications/batch, for fixed batch sizes and the adaptive size, under a fast,"
                    + " a slow and a saturating gateway and a step from fast to slow mid-run. One broker, one"
                    + " generated input, one run per cell.")
    static final class Batching implements Callable<Integer> {
        @Option(names = "--events", defaultValue = "10000", description = "Payments in the input (default: ${DEFAULT-VALUE}).")
        int events;

        @Option(names = "--regimes", defaultValue = "fast,slow,saturating,step", split = ",",
                description = "Gateway regimes to run: fast, slow, saturating, step (fast to slow mid-run) (default: "
                        + "${DEFAULT-VALUE}).")
        List<String> regimes;

        @Option(names = "--sizes", defaultValue = "1,10,100,500,adaptive", split = ",",
                description = "Fixed batch sizes and 'adaptive' (default: ${DEFAULT-VALUE}).")
        List<String> sizes;

        @Option(names = "--max-batch", defaultValue = "500", description = "Adaptive upper bound (default: ${DEFAULT-VALUE}).")
        int maxBatch;

        @Option(names = "--batch-latency-target", defaultValue = "200ms", converter = DurationConverter.class,
                description = "Adaptive latency target (default: ${DEFAULT-VALUE}).")
        Duration latencyTarget;

        @Option(names = "--max-batches-in-flight", defaultValue = "4",
                description = "Batches in flight per subtask (default: ${DEFAULT-VALUE}).")
        int maxBatchesInFlight;

        @Option(names = "--call-timeout", defaultValue = "10s", converter = DurationConverter.class,
                description = "Timeout of one batch (default: ${DEFAULT-VALUE}).")
        Duration callTimeout;

        @Option(names = "--gateway-latency", defaultValue = "20ms", converter = NonNegativeDurationConverter.class,
                description = "Gateway latency per batch request (default: ${DEFAULT-VALUE}).")
        Duration latency;

        @Option(names = "--fast-item-latency", defaultValue = "0ms", converter = NonNegativeDurationConverter.class,
                description = "Gateway latency per item, fast regime (default: ${DEFAULT-VALUE}).")
        Duration fastItem;

        @Option(names = "--slow-item-latency", defaultValue = "20ms", converter = NonNegativeDurationConverter.class,
                description = "Gateway latency per item, slow regime (default: ${DEFAULT-VALUE}).")
        Duration slowItem;

        @Option(names = "--capacity", defaultValue = "400",
                description = "Items/s the saturating gateway takes; a batch over it gets 503 (default: ${DEFAULT-VALUE}).")
        long capacity;

        @Option(names = "--parallelism", defaultValue = "1", description = "Job parallelism (default: ${DEFAULT-VALUE}).")
        int parallelism;

        @Option(names = "--checkpoint-interval", defaultValue = "1s", converter = DurationConverter.class,
                description = "Checkpoint interval (default: ${DEFAULT-VALUE}).")
        Duration checkpointInterval;

        @Mixin
        InputFlags input = new InputFlags();

        @Override
        public Integer call() throws Exception {
            BatchingBenchmark.run(new BatchingBenchmark.Settings(events, parallelism, regimes, sizes, maxBatch, latencyTarget,
                    maxBatchesInFlight, callTimeout, latency, fastItem, slowItem, capacity, checkpointInterval, input.seed,
                    input.accounts), System.out);
            return 0;
        }
    }

    /** {@code stagewise bench reconcile}: {@link ReconcileBenchmark}. */
    @Command(name = "reconcile", mixinStandardHelpOptions = true,
            description = "Measure the reconcile job: ids reconciled per second at each parallelism over N generated"
                    + " payments (input, output, DLQ, ledger, balances), each run in a child JVM with a fixed -Xmx whose"
                    + " peak heap is shown: it stays flat as N grows.")
    static final class Reconcile implements Callable<Integer> {
        @Option(names = "--events", split = ",", defaultValue = "20000", paramLabel = "N",
                description = "Input events, comma separated sizes each measured, e.g. 250000,1000000 (default: ${DEFAULT-VALUE}).")
        List<Integer> events;

        @Option(names = "--parallelism", split = ",", defaultValue = "1,2", paramLabel = "P",
                description = "Parallelisms of the reconcile job (default: ${DEFAULT-VALUE}).")
        List<Integer> parallelism;

        @Option(names = "--heap", defaultValue = "1g",
                description = "-Xmx of the child JVM that runs each reconciliation (default: ${DEFAULT-VALUE}).")
        String heap;

        @Override
        public Integer call() throws Exception {
            ReconcileBenchmark.run(new ReconcileBenchmark.Settings(events, parallelism, heap), System.out);
            return 0;
        }
    }

    /** {@code stagewise bench state}: {@link StateBenchmark}. */
    @Command(name = "state", mixinStandardHelpOptions = true,
            description = "Checkpoint bytes per remembered event id: the dedup-only pipeline reads --ids distinct ids"
                    + " and runs until a checkpoint holds them all, once with full and once with incremental RocksDB"
                    + " checkpoints; sizes from the checkpoint's own metadata (whole job and the stage operator, which"
                    + " holds the dedup entries). Goal: <= 150 bytes per id.")
    static final class State implements Callable<Integer> {
        private static final int PRODUCE_SLICE = 20_000;

        @Option(names = "--ids", defaultValue = "1000000",
                description = "Distinct event ids to load (default: ${DEFAULT-VALUE}).")
        int ids;

        @Option(names = "--parallelism", defaultValue = "2", description = "Parallelism of the job (default: ${DEFAULT-VALUE}).")
        int parallelism;

        @Option(names = "--checkpoint-interval", defaultValue = "2s", converter = DurationConverter.class,
                description = "Checkpoint interval (default: ${DEFAULT-VALUE}).")
        Duration checkpointInterval;

        @Mixin
        InputFlags input = new InputFlags();

        @Override
        public Integer call() throws Exception {
            if (ids < 1 || parallelism < 1) {
                throw new StagewiseException("--ids and --parallelism must be >= 1");
            }
            PaymentGenerator.Plan plan = PaymentGenerator.plan(input.settings(ids, 0, 0));
            Path dir = Files.createTempDirectory("stagewise-bench-state-");
            try (EmbeddedKafka kafka = EmbeddedKafka.start(dir.resolve("kafka"))) {
                String topic = "bench.payments";
                Topics.createAll(kafka.bootstrapServers(), parallelism, List.of(topic));
                System.out.printf("Producing %,d records with distinct ids to %s ...%n", plan.records().size(), topic);
                // In slices, each flushed before the next: on a loaded machine one producer with a million
                // records queued expires batches (delivery.timeout.ms) before the broker takes them.
                List<PaymentGenerator.Record> records = plan.records();
                for (int from = 0; from < records.size(); from += PRODUCE_SLICE) {
                    PaymentGenerator.send(records.subList(from, Math.min(records.size(), from + PRODUCE_SLICE)),
                            kafka.bootstrapServers(), topic, 0, n -> { });
                }
                StateBenchmark bench = new StateBenchmark(kafka.bootstrapServers(), topic, parallelism, checkpointInterval,
                        dir.resolve("checkpoints"));
                List<StateBenchmark.Result> results = new ArrayList<>();
                for (boolean incremental : new boolean[] {false, true}) {
                    results.add(bench.measure(incremental, plan.validIds().size()));
                    System.out.printf("%s checkpoints measured%n", incremental ? "incremental" : "full");
                }
                System.out.printf("%ndedup-only pipeline, %,d distinct ids over %d accounts, parallelism %d, RocksDB%n",
                        plan.validIds().size(), input.accounts, parallelism);
                StateBenchmark.print(results, System.out);
                return 0;
            } finally {
                Directories.deleteRecursively(dir);
            }
        }
    }

    static Integer runPipeline(PipelineFlags flags) throws Exception {
        if (flags.rounds < 1 || flags.parallelism < 1) {
            throw new StagewiseException("--rounds and --parallelism must be >= 1");
        }
        PaymentGenerator.Plan plan = PaymentGenerator.plan(flags.generator.settings());
        Path dir = Files.createTempDirectory("stagewise-bench-");
        try (EmbeddedKafka kafka = EmbeddedKafka.start(dir.resolve("kafka"))) {
            String input = "bench.payments";
            Topics.createAll(kafka.bootstrapServers(), flags.parallelism, List.of(input));
            System.out.printf("Producing %d records to %s ...%n", plan.records().size(), input);
            PaymentGenerator.send(plan, kafka.bootstrapServers(), input, 0, n -> { });
            PipelineBenchmark bench = new PipelineBenchmark(kafka.bootstrapServers(), input, flags.parallelism,
                    flags.checkpointInterval, dir.resolve("checkpoints"));
            List<Double> bare = new ArrayList<>();
            List<Double> pipeline = new ArrayList<>();
            for (int round = 1; round <= flags.rounds; round++) {
                bare.add(bench.bare());
                pipeline.add(bench.pipeline());
                System.out.printf("round %d/%d: bare %.2f s, pipeline %.2f s%n", round, flags.rounds,
                        bare.get(bare.size() - 1), pipeline.get(pipeline.size() - 1));
            }
            int records = plan.records().size();
            double bareRate = records / StageBenchmark.median(bare);
            double pipelineRate = records / StageBenchmark.median(pipeline);
            System.out.printf("%nrecords: %d (parallelism %d, checkpoint interval %s, median of %d rounds, job start-up included)%n",
                    records, flags.parallelism, flags.checkpointInterval, flags.rounds);
            System.out.printf("bare Flink job (KafkaSource -> KafkaSink EXACTLY_ONCE): %,.0f events/s%n", bareRate);
            System.out.printf("stagewise pipeline (malformed split, dedup, stages, output + DLQ EXACTLY_ONCE): %,.0f events/s%n", pipelineRate);
            System.out.printf("ratio pipeline/bare: %.2f%n", pipelineRate / bareRate);
            return 0;
        } finally {
            Directories.deleteRecursively(dir);
        }
    }
}
