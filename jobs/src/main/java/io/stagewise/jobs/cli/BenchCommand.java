package io.stagewise.jobs.cli;

import io.stagewise.jobs.StagewiseException;
import io.stagewise.jobs.Topics;
import io.stagewise.jobs.bench.PipelineBenchmark;
import io.stagewise.jobs.generator.PaymentGenerator;
import io.stagewise.jobs.sandbox.EmbeddedKafka;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code stagewise bench}: events/s of the pipeline against a bare exactly-once Flink job on the
 * same embedded broker, same events, same process, rounds interleaved; prints both and the ratio.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Measure pipeline throughput against a bare exactly-once Kafka-to-Kafka Flink job.")
public final class BenchCommand implements Callable<Integer> {
    @Mixin
    ProduceCommand.GeneratorFlags generator = new ProduceCommand.GeneratorFlags();

    @Option(names = "--rounds", defaultValue = "3", description = "Runs of each job, interleaved; the median counts (default: ${DEFAULT-VALUE}).")
    int rounds;

    @Option(names = "--parallelism", defaultValue = "2", description = "Parallelism of both jobs (default: ${DEFAULT-VALUE}).")
    int parallelism;

    @Option(names = "--checkpoint-interval", defaultValue = "2s", converter = DurationConverter.class,
            description = "Checkpoint interval of both jobs (default: ${DEFAULT-VALUE}).")
    Duration checkpointInterval;

    @Override
    public Integer call() throws Exception {
        if (rounds < 1 || parallelism < 1) {
            throw new StagewiseException("--rounds and --parallelism must be >= 1");
        }
        PaymentGenerator.Plan plan = PaymentGenerator.plan(generator.settings());
        Path dir = Files.createTempDirectory("stagewise-bench-");
        try (EmbeddedKafka kafka = EmbeddedKafka.start(dir.resolve("kafka"))) {
            String input = "bench.payments";
            Topics.createAll(kafka.bootstrapServers(), parallelism, List.of(input));
            System.out.printf("Producing %d records to %s ...%n", plan.records().size(), input);
            PaymentGenerator.send(plan, kafka.bootstrapServers(), input, 0, n -> { });
            PipelineBenchmark bench = new PipelineBenchmark(kafka.bootstrapServers(), input, parallelism,
                    checkpointInterval, dir.resolve("checkpoints"));
            List<Double> bare = new ArrayList<>();
            List<Double> pipeline = new ArrayList<>();
            for (int round = 1; round <= rounds; round++) {
                bare.add(bench.bare());
                pipeline.add(bench.pipeline());
                System.out.printf("round %d/%d: bare %.2f s, pipeline %.2f s%n", round, rounds,
                        bare.get(bare.size() - 1), pipeline.get(pipeline.size() - 1));
            }
            int records = plan.records().size();
            double bareRate = records / median(bare);
            double pipelineRate = records / median(pipeline);
            System.out.printf("%nrecords: %d (parallelism %d, checkpoint interval %s, median of %d rounds, job start-up included)%n",
                    records, parallelism, checkpointInterval, rounds);
            System.out.printf("bare Flink job (KafkaSource -> KafkaSink EXACTLY_ONCE): %,.0f events/s%n", bareRate);
            System.out.printf("stagewise pipeline (malformed split, dedup, stages, output + DLQ EXACTLY_ONCE): %,.0f events/s%n", pipelineRate);
            System.out.printf("ratio pipeline/bare: %.2f%n", pipelineRate / bareRate);
            return 0;
        } finally {
            try (var paths = Files.walk(dir)) {
                paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static double median(List<Double> values) {
        List<Double> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }
}
