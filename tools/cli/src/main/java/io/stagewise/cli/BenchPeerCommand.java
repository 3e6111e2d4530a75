package io.stagewise.cli;

import io.stagewise.bench.peer.PeerBenchmark;
import io.stagewise.jobs.flags.DurationConverter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code stagewise bench peer}: {@link PeerBenchmark}. */
@Command(name = "peer", mixinStandardHelpOptions = true,
        description = "Compare the Stagewise pipeline with a Kafka Streams 4.2 exactly_once_v2 application doing the"
                + " same job (parse -> repartition by id -> RocksDB dedup -> validate, enrich, route -> output), each"
                + " in a JVM of its own, on one embedded broker, same input, at each commit/checkpoint interval;"
                + " rounds interleaved, medians. Prints events/s from JVM launch to the last record visible"
                + " read_committed, the app's process CPU seconds, and the ratios; every run's output is checked"
                + " exact (each distinct id once) before it counts. The issue-11 sizes: --events 500000.")
public final class BenchPeerCommand implements Callable<Integer> {
    @Option(names = "--events", defaultValue = "50000",
            description = "Input records, duplicates included (default: ${DEFAULT-VALUE}; full size 500000).")
    int events;

    @Option(names = "--duplicate-rate", defaultValue = "0.05",
            description = "Share of records that repeat an earlier event (default: ${DEFAULT-VALUE}).")
    double duplicateRate;

    @Option(names = "--partitions", defaultValue = "3",
            description = "Partitions of the input, output and repartition topics (default: ${DEFAULT-VALUE}).")
    int partitions;

    @Option(names = "--intervals", split = ",", defaultValue = "100ms,1s", paramLabel = "DURATION",
            converter = DurationConverter.class,
            description = "Checkpoint interval (Stagewise) = commit interval (Kafka Streams) of each case"
                    + " (default: ${DEFAULT-VALUE}).")
    List<Duration> intervals = new ArrayList<>();

    @Option(names = "--rounds", defaultValue = "3",
            description = "Runs of each case, interleaved; the median counts (default: ${DEFAULT-VALUE}).")
    int rounds;

    @Option(names = "--parallelism", defaultValue = "2",
            description = "Parallelism of the Stagewise job (default: ${DEFAULT-VALUE}).")
    int parallelism;

    @Option(names = "--stream-threads", defaultValue = "1",
            description = "Kafka Streams num.stream.threads (default: ${DEFAULT-VALUE}).")
    int streamThreads;

    @Option(names = "--stagewise-workflow", defaultValue = "dedup-only",
            description = "dedup-only (no stages) or local (validate, enrich, route, as the peer does)"
                    + " (default: ${DEFAULT-VALUE}).")
    String workflow;

    @Option(names = "--child-heap", defaultValue = "1g",
            description = "-Xmx of each application's JVM (default: ${DEFAULT-VALUE}).")
    String childHeap;

    @Option(names = "--rocksdb-jar", description = "The org.rocksdb:rocksdbjni jar for Kafka Streams (default:"
            + " tools/cli/target/peer-lib/rocksdbjni-*.jar, copied there by the build).")
    Path rocksdbJar;

    @Option(names = "--run-timeout", defaultValue = "10min", converter = DurationConverter.class,
            description = "Longest run; a run that has not produced its whole output by then fails the benchmark"
                    + " (default: ${DEFAULT-VALUE}).")
    Duration runTimeout;

    @Mixin
    InputFlags input = new InputFlags();

    @Override
    public Integer call() throws Exception {
        PeerBenchmark.run(new PeerBenchmark.Settings(input.settings(events, duplicateRate, 0),
                partitions, intervals, rounds, parallelism, streamThreads, workflow, childHeap, rocksdbJar, runTimeout),
                System.out);
        return 0;
    }
}
