package io.stagewise.bench.peer;

import io.stagewise.bench.StageBenchmark;
import io.stagewise.jobs.StagewiseException;
import io.stagewise.jobs.Topics;
import io.stagewise.jobs.audit.TopicReader;
import io.stagewise.operators.event.StagewiseHeaders;
import io.stagewise.testkit.Directories;
import io.stagewise.testkit.EmbeddedKafka;
import io.stagewise.testkit.PaymentGenerator;
import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.PrintStream;
import java.io.Writer;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.jar.Attributes;
import java.util.jar.JarFile;
import java.util.jar.Manifest;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;

/**
 * {@code stagewise bench peer}: the Stagewise pipeline against a Kafka Streams {@code exactly_once_v2}
 * application doing the same job ({@link PeerStreamsApp}), on one embedded broker, over one generated
 * input (duplicates, no malformed records), for each commit/checkpoint interval, rounds interleaved
 * (the order of the two alternates per round), medians.
 *
 * <p>Each run is a fresh JVM ({@link PeerApp}) with a fresh output topic, consumer group or
 * application id and state. Its time runs from the JVM's launch until the last expected record is
 * visible to a {@code read_committed} consumer of the output; its CPU is the process CPU time of that
 * JVM at that moment (start-up, JIT and GC included, the broker excluded), read by the JVM itself.
 * A run counts only when its whole output, read committed afterwards, holds every distinct input id
 * exactly once and nothing else; otherwise the benchmark stops.
 */
public final class PeerBenchmark {
    static final String STREAMS = "kafka-streams";
    static final String STAGEWISE = "stagewise";

    /** What to measure; validated on construction. */
    public record Settings(PaymentGenerator.Settings generator, int partitions, List<Duration> intervals, int rounds,
                           int parallelism, int streamThreads, String workflow, String childHeap, Path rocksdbJar,
                           Duration runTimeout) {
        public Settings {
            if (rounds < 1 || partitions < 1 || parallelism < 1 || streamThreads < 1) {
                throw new StagewiseException("--rounds, --partitions, --parallelism and --stream-threads must be >= 1");
            }
            if (generator.events() < 1) {
                throw new StagewiseException("--events must be >= 1, got " + generator.events());
            }
            if (intervals.isEmpty() || intervals.stream().anyMatch(d -> d.toMillis() < 10)) {
                throw new StagewiseException("--intervals needs at least one interval of 10ms or more, got " + intervals);
            }
            if (!workflow.equals("dedup-only") && !workflow.equals("local")) {
                throw new StagewiseException("--stagewise-workflow must be dedup-only or local, got " + workflow);
            }
            intervals = List.copyOf(intervals);
        }
    }

    /** One run: wall-clock seconds from JVM launch to complete output, and that JVM's CPU seconds. */
    record Run(double seconds, double cpuSeconds, double startupCpuSeconds) {}

    private final Settings settings;
    private final PrintStream out;

    private PeerBenchmark(Settings settings, PrintStream out) {
        this.settings = settings;
        this.out = out;
    }

    public static void run(Settings settings, PrintStream out) throws Exception {
        new PeerBenchmark(settings, out).run();
    }

    private void run() throws Exception {
        Path rocksdb = settings.rocksdbJar() != null ? settings.rocksdbJar() : findRocksdbJar();
        Path dir = Files.createTempDirectory("stagewise-bench-peer-");
        try (EmbeddedKafka kafka = EmbeddedKafka.start(dir.resolve("kafka"))) {
            String bootstrap = kafka.bootstrapServers();
            String input = "bench.peer.payments";
            Topics.createAll(bootstrap, settings.partitions(), List.of(input));
            PaymentGenerator.Plan plan = PaymentGenerator.plan(settings.generator());
            out.printf("Producing %,d records to %s (%d partitions, %,d distinct ids) ...%n", plan.records().size(),
                    input, settings.partitions(), plan.validIds().size());
            PaymentGenerator.send(plan, bootstrap, input, 0, n -> { });
            Map<String, List<Run>> runs = new LinkedHashMap<>();
            int n = 0;
            for (int round = 1; round <= settings.rounds(); round++) {
                for (Duration interval : settings.intervals()) {
                    List<String> order = round % 2 == 1 ? List.of(STREAMS, STAGEWISE) : List.of(STAGEWISE, STREAMS);
                    for (String app : order) {
                        String name = "peer-" + app + "-" + (++n);
                        Run r = measure(app, name, interval, bootstrap, input, plan.validIds(), rocksdb, dir);
                        runs.computeIfAbsent(key(app, interval), k -> new ArrayList<>()).add(r);
                        out.printf("round %d/%d  interval %5d ms  %-14s %7.2f s %9.0f events/s  app CPU %6.2f s"
                                        + " (start-up %5.2f s)  output exact%n", round, settings.rounds(),
                                interval.toMillis(), app, r.seconds(), plan.records().size() / r.seconds(),
                                r.cpuSeconds(), r.startupCpuSeconds());
                        out.flush();
                    }
                }
            }
            report(runs, plan.records().size());
        } finally {
            Directories.deleteRecursively(dir);
        }
    }

    private static String key(String app, Duration interval) {
        return app + "@" + interval.toMillis();
    }

    private Run measure(String app, String name, Duration interval, String bootstrap, String input, Set<String> expected,
                        Path rocksdb, Path dir) throws Exception {
        String output = name + ".out";
        Topics.createAll(bootstrap, settings.partitions(), List.of(output));
        Path work = Files.createDirectories(dir.resolve(name));
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        for (String arg : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (arg.startsWith("--add-opens") || arg.startsWith("--add-exports") || arg.startsWith("-Dstagewise.log")) {
                command.add(arg);
            }
        }
        command.add("-Xmx" + settings.childHeap());
        command.add("-cp");
        command.add(String.join(File.pathSeparator, childClassPath(app, rocksdb, expandedClassPath())));
        command.add(PeerApp.class.getName());
        command.addAll(List.of(app, bootstrap, input, name, String.valueOf(interval.toMillis()),
                String.valueOf(app.equals(STREAMS) ? settings.streamThreads() : settings.parallelism()),
                work.toString(), settings.workflow(), String.valueOf(settings.partitions())));
        // Outside the working folder, which is deleted at the end: a failed run's log must survive it.
        Path log = Files.createDirectories(Path.of(System.getProperty("stagewise.log.dir", ".stagewise/logs")))
                .resolve(name + "-" + ProcessHandle.current().pid() + ".log");
        ProcessBuilder builder = new ProcessBuilder(command).redirectError(log.toFile());

        BlockingQueue<String> protocol = new LinkedBlockingQueue<>();
        long start = System.nanoTime();
        Process child = builder.start();
        Thread pump = new Thread(() -> pump(child, protocol), name + "-stdout");
        pump.setDaemon(true);
        pump.start();
        try (KafkaConsumer<byte[], byte[]> consumer = TopicReader.consumer(bootstrap);
                Writer stdin = new OutputStreamWriter(child.getOutputStream(), StandardCharsets.UTF_8)) {
            List<TopicPartition> partitions = new ArrayList<>();
            for (int p = 0; p < settings.partitions(); p++) {
                partitions.add(new TopicPartition(output, p));
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Set<String> seen = new HashSet<>();
            long deadline = start + settings.runTimeout().toNanos();
            while (seen.size() < expected.size()) {
                if (!child.isAlive()) {
                    throw new StagewiseException(name + " exited with " + child.exitValue() + " before its output was"
                            + " complete (" + seen.size() + " of " + expected.size() + " ids); see " + log);
                }
                if (System.nanoTime() > deadline) {
                    throw new StagewiseException(name + ": only " + seen.size() + " of " + expected.size()
                            + " ids in " + output + " after " + settings.runTimeout().toSeconds() + " s (--run-timeout)");
                }
                for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(20))) {
                    seen.add(eventId(record));
                }
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            stdin.write(PeerApp.STOP + "\n");
            stdin.flush();
            long ready = await(protocol, PeerApp.READY, name, log);
            long done = await(protocol, PeerApp.DONE, name, log);
            if (!child.waitFor(60, TimeUnit.SECONDS)) {
                child.destroyForcibly();
                throw new StagewiseException(name + " did not exit within 60 s after stop; see " + log);
            }
            verify(name, bootstrap, output, expected);
            Files.deleteIfExists(log);
            return new Run(seconds, done / 1e9, ready / 1e9);
        } finally {
            if (child.isAlive()) {
                child.destroyForcibly();
            }
        }
    }

    /** Every distinct input id exactly once in the whole output, read committed, and nothing else. */
    private static void verify(String name, String bootstrap, String output, Set<String> expected) {
        List<ConsumerRecord<byte[], byte[]>> records = TopicReader.readAll(bootstrap, output, Duration.ofMinutes(2));
        Set<String> ids = new HashSet<>();
        for (ConsumerRecord<byte[], byte[]> record : records) {
            ids.add(eventId(record));
        }
        if (records.size() != expected.size() || !ids.equals(expected)) {
            throw new StagewiseException(name + ": output " + output + " holds " + records.size() + " records of "
                    + ids.size() + " distinct ids, expected each of the " + expected.size() + " input ids exactly once");
        }
    }

    private static String eventId(ConsumerRecord<byte[], byte[]> record) {
        Header header = record.headers().lastHeader(StagewiseHeaders.EVENT_ID);
        return header == null ? "" : new String(header.value(), StandardCharsets.UTF_8);
    }

    private static void pump(Process child, BlockingQueue<String> protocol) {
        try (BufferedReader reader = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = reader.readLine()) != null) {
                if (line.startsWith("PEER ")) {
                    protocol.add(line);
                }
            }
        } catch (IOException e) {
            // The child is gone; measure() notices.
        }
    }

    private static long await(BlockingQueue<String> protocol, String prefix, String name, Path log) throws InterruptedException {
        while (true) {
            String line = protocol.poll(60, TimeUnit.SECONDS);
            if (line == null) {
                throw new StagewiseException(name + " did not report '" + prefix.trim() + "' within 60 s; see " + log);
            }
            if (line.startsWith(prefix)) {
                return Long.parseLong(line.substring(prefix.length()).trim());
            }
        }
    }

    /**
     * This JVM's class path, manifest {@code Class-Path} entries expanded, with only the RocksDB build
     * the application needs: Flink's {@code frocksdbjni} for Stagewise, {@code rocksdbjni} (the build
     * kafka-streams declares) for Kafka Streams.
     */
    static List<String> childClassPath(String app, Path rocksdb, List<Path> classPath) {
        List<String> entries = new ArrayList<>();
        if (app.equals(STREAMS)) {
            entries.add(rocksdb.toString());
        }
        for (Path entry : classPath) {
            String file = entry.getFileName().toString();
            boolean flinkRocksdb = file.startsWith("frocksdbjni");
            boolean streamsRocksdb = file.startsWith("rocksdbjni");
            if (!flinkRocksdb && !streamsRocksdb || app.equals(STAGEWISE) && flinkRocksdb) {
                entries.add(entry.toString());
            }
        }
        return entries;
    }

    private static List<Path> expandedClassPath() throws IOException {
        List<Path> paths = new ArrayList<>();
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            Path path = Path.of(entry).toAbsolutePath();
            paths.add(path);
            if (entry.endsWith(".jar") && Files.isRegularFile(path)) {
                try (JarFile jar = new JarFile(path.toFile())) {
                    Manifest manifest = jar.getManifest();
                    String classPath = manifest == null ? null : manifest.getMainAttributes().getValue(Attributes.Name.CLASS_PATH);
                    if (classPath != null) {
                        for (String relative : classPath.trim().split("\\s+")) {
                            paths.add(path.getParent().resolve(relative).normalize());
                        }
                    }
                }
            }
        }
        return paths;
    }

    /** {@code peer-lib/rocksdbjni-*.jar} next to the launcher's jar ({@code tools/cli/target}), where the build copies it. */
    private static Path findRocksdbJar() throws IOException {
        for (Path entry : expandedClassPath()) {
            if (entry.getFileName().toString().startsWith("rocksdbjni")) {
                return entry;
            }
            Path peerLib = entry.getParent() == null ? null : entry.getParent().resolve("peer-lib");
            if (peerLib != null && Files.isDirectory(peerLib)) {
                try (DirectoryStream<Path> jars = Files.newDirectoryStream(peerLib, "rocksdbjni-*.jar")) {
                    for (Path jar : jars) {
                        return jar;
                    }
                }
            }
        }
        throw new StagewiseException("Kafka Streams needs its own RocksDB build (org.rocksdb:rocksdbjni, the version"
                + " kafka-streams declares), kept apart from Flink's: not found in tools/cli/target/peer-lib; rebuild with"
                + " 'mvn -B -DskipTests package' or pass --rocksdb-jar");
    }

    private void report(Map<String, List<Run>> runs, int records) {
        out.printf("%nMedian of %d rounds; %,d input records (%.1f%% duplicates), %d partitions; Stagewise %s at"
                        + " parallelism %d, Kafka Streams exactly_once_v2 with %d stream thread(s); time from JVM launch"
                        + " to the last record visible read_committed; app CPU = that JVM's process CPU (start-up"
                        + " included, broker excluded); CPU after start-up = app CPU less the CPU spent until the app was started (Flink job submitted, KafkaStreams.start() returned).%n",
                settings.rounds(), records,
                100 * settings.generator().duplicateRate(), settings.partitions(), settings.workflow(),
                settings.parallelism(), settings.streamThreads());
        out.printf("  %-9s %-14s %9s %12s %10s %14s %22s%n", "interval", "app", "median s", "events/s", "app CPU s",
                "CPU us/event", "CPU after start-up s");
        for (Duration interval : settings.intervals()) {
            double[] rate = new double[2];
            double[] cpuPerEvent = new double[2];
            int i = 0;
            for (String app : List.of(STAGEWISE, STREAMS)) {
                List<Run> r = runs.get(key(app, interval));
                double s = StageBenchmark.median(r.stream().map(Run::seconds).toList());
                double cpu = StageBenchmark.median(r.stream().map(Run::cpuSeconds).toList());
                double afterStartup = StageBenchmark.median(r.stream().map(x -> x.cpuSeconds() - x.startupCpuSeconds()).toList());
                rate[i] = records / s;
                cpuPerEvent[i] = cpu * 1e6 / records;
                out.printf("  %6d ms %-14s %9.2f %,12.0f %10.2f %14.1f %22.2f%n", interval.toMillis(), app, s, rate[i], cpu,
                        cpuPerEvent[i], afterStartup);
                i++;
            }
            out.printf("  %6d ms ratio stagewise/kafka-streams: throughput %.2f, CPU per event %.2f%n",
                    interval.toMillis(), rate[0] / rate[1], cpuPerEvent[0] / cpuPerEvent[1]);
        }
    }
}
