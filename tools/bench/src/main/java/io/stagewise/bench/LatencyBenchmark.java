package io.stagewise.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.stagewise.jobs.Topics;
import io.stagewise.jobs.local.FlinkRest;
import io.stagewise.operators.stage.Workflow;
import io.stagewise.testkit.EmbeddedKafka;
import io.stagewise.testkit.FreePorts;
import io.stagewise.testkit.PaymentGenerator;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.execution.JobClient;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * End-to-end latency of the pipeline (dedup-only, exactly-once output) at several checkpoint
 * intervals: from an input record's timestamp (its producer's send time) to the moment a
 * {@code read_committed} consumer of the output topic receives it, i.e. after the checkpoint that
 * commits it. One broker, one process; per interval two loads:
 *
 * <ol>
 *   <li>steady: input sent at a fixed rate of half the measured maximum (a bounded run of the same
 *       pipeline over {@code maxRateEvents} records, start-up included, so a conservative maximum)
 *       for {@code warmup + measure}; only records sent after the warm-up count;
 *   <li>backlog: {@code backlogEvents} records written before the job starts; latency then includes
 *       the time a record waited in the backlog, throughput is the backlog over the time from
 *       submission to its last record visible.
 * </ol>
 *
 * The pipeline's own view of the same latency, the histogram
 * {@code stagewise.sink.output.endToEndLatencyMs} (operators/latency, measured at checkpoint
 * completion), is read from Flink's REST API at the end of each steady run: its window holds the
 * last records, its p99 is the worst subtask's.
 */
public final class LatencyBenchmark {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration PATIENCE = Duration.ofMinutes(10);

    /** What to run. */
    public record Settings(List<Duration> intervals, int parallelism, int maxRateEvents, Duration warmup,
                           Duration measure, int backlogEvents, int accounts, long seed) {}

    /** One row of the table. */
    public record Row(Duration interval, String load, double inputRate, double throughput, long count, long p50,
                      long p99, double metricP50, double metricP99,
                      Optional<FlinkRest.CheckpointDurations> checkpoints) {}

    private LatencyBenchmark() {}

    public static List<Row> run(Settings settings, Path dir, PrintStream out) throws Exception {
        List<Row> rows = new ArrayList<>();
        try (EmbeddedKafka kafka = EmbeddedKafka.start(dir.resolve("kafka"))) {
            String bootstrap = kafka.bootstrapServers();
            int topic = 0;
            String maxInput = "bench.latency.max";
            Topics.createAll(bootstrap, settings.parallelism(), List.of(maxInput));
            PaymentGenerator.Plan maxPlan = PaymentGenerator.plan(new PaymentGenerator.Settings(settings.maxRateEvents(), 0, 0,
                    settings.seed(), settings.accounts()));
            PaymentGenerator.send(maxPlan, bootstrap, maxInput, 0, n -> { });
            PipelineBenchmark maxBench = new PipelineBenchmark(bootstrap, maxInput, settings.parallelism(), Duration.ofSeconds(1),
                    dir.resolve("checkpoints"));
            double maxRate = settings.maxRateEvents() / maxBench.pipeline();
            int steadyRate = (int) Math.max(1, maxRate / 2);
            out.printf("maximum (bounded run, %,d records, 1 s checkpoints): %,.0f events/s; steady load %,d events/s%n",
                    settings.maxRateEvents(), maxRate, steadyRate);

            for (Duration interval : settings.intervals()) {
                PipelineBenchmark bench = new PipelineBenchmark(bootstrap, maxInput, settings.parallelism(), interval,
                        dir.resolve("checkpoints"));
                // (1) steady load
                String input = "bench.latency." + (++topic);
                Topics.createAll(bootstrap, settings.parallelism(), List.of(input));
                int events = (int) (steadyRate * (settings.warmup().toMillis() + settings.measure().toMillis()) / 1000);
                PaymentGenerator.Plan plan = PaymentGenerator.plan(new PaymentGenerator.Settings(events, 0, 0,
                        settings.seed() + topic, settings.accounts()));
                rows.add(steady(bench, bootstrap, input, interval, plan, steadyRate, settings, out));
                // (2) backlog
                String backlog = "bench.latency." + (++topic);
                Topics.createAll(bootstrap, settings.parallelism(), List.of(backlog));
                PaymentGenerator.Plan backlogPlan = PaymentGenerator.plan(new PaymentGenerator.Settings(settings.backlogEvents(),
                        0, 0, settings.seed() + topic, settings.accounts()));
                PaymentGenerator.send(backlogPlan, bootstrap, backlog, 0, n -> { });
                rows.add(backlog(bench, bootstrap, backlog, interval, backlogPlan, settings, out));
            }
        }
        print(rows, settings, out);
        return rows;
    }

    private static Row steady(PipelineBenchmark bench, String bootstrap, String input, Duration interval,
                              PaymentGenerator.Plan plan, int rate, Settings settings, PrintStream out) throws Exception {
        int port = FreePorts.pick();
        PipelineBenchmark.Job job = bench.pipelineJob("bench-latency-" + input.substring(input.lastIndexOf('.') + 1), input,
                Workflow.named("dedup-only").build(), settings.parallelism(), new Configuration(), port);
        OutputWatcher watcher = new OutputWatcher(bootstrap, job.outputTopic(), settings.parallelism());
        JobClient client = job.env().executeAsync(job.name());
        try {
            watcher.start();
            long start = System.currentTimeMillis();
            PaymentGenerator.send(plan, bootstrap, input, rate, n -> { });
            long sentUntil = System.currentTimeMillis();
            watcher.awaitCount(plan.validIds().size());
            long from = start + settings.warmup().toMillis();
            long[] latencies = watcher.latenciesOfRecordsSentBetween(from, sentUntil);
            FlinkRest rest = new FlinkRest("http://127.0.0.1:" + port, client.getJobID());
            Map<String, Double> metrics = latencyMetrics(rest);
            double throughput = latencies.length / ((sentUntil - from) / 1000.0);
            out.printf("%s checkpoints, steady: %d records measured%n", interval, latencies.length);
            return new Row(interval, "steady, half of max", rate, throughput, latencies.length, percentile(latencies, 50),
                    percentile(latencies, 99), metric(metrics, "_median"), metric(metrics, "_p99"), rest.checkpointDurations());
        } finally {
            watcher.stop();
            client.cancel().get(2, TimeUnit.MINUTES);
        }
    }

    private static Row backlog(PipelineBenchmark bench, String bootstrap, String input, Duration interval,
                               PaymentGenerator.Plan plan, Settings settings, PrintStream out) throws Exception {
        int port = FreePorts.pick();
        PipelineBenchmark.Job job = bench.pipelineJob("bench-latency-" + input.substring(input.lastIndexOf('.') + 1), input,
                Workflow.named("dedup-only").build(), settings.parallelism(), new Configuration(), port);
        OutputWatcher watcher = new OutputWatcher(bootstrap, job.outputTopic(), settings.parallelism());
        watcher.start();
        long submitted = System.currentTimeMillis();
        JobClient client = job.env().executeAsync(job.name());
        try {
            long last = watcher.awaitCount(plan.validIds().size());
            // Read at once: the checkpoints taken while the backlog drained, not those of the idle job after it.
            FlinkRest rest = new FlinkRest("http://127.0.0.1:" + port, client.getJobID());
            Optional<FlinkRest.CheckpointDurations> checkpoints = rest.checkpointDurations();
            long[] latencies = watcher.latenciesOfRecordsSentBetween(0, Long.MAX_VALUE);
            Map<String, Double> metrics = latencyMetrics(rest);
            double throughput = latencies.length / ((last - submitted) / 1000.0);
            out.printf("%s checkpoints, backlog: %d records%n", interval, latencies.length);
            return new Row(interval, "backlog of " + plan.validIds().size(), 0, throughput, latencies.length,
                    percentile(latencies, 50), percentile(latencies, 99), metric(metrics, "_median"), metric(metrics, "_p99"),
                    checkpoints);
        } finally {
            watcher.stop();
            client.cancel().get(2, TimeUnit.MINUTES);
        }
    }

    /**
     * The job's metrics once they hold the output sink's latency histogram: Flink's REST API answers
     * from a cache its metric fetcher fills on request, so the first answers can lack it.
     */
    private static Map<String, Double> latencyMetrics(FlinkRest rest) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        Map<String, Double> metrics = rest.stagewiseMetrics();
        while (Double.isNaN(metric(metrics, "_p99")) && System.nanoTime() < deadline) {
            TimeUnit.MILLISECONDS.sleep(500); // polling Flink's metric cache
            metrics = rest.stagewiseMetrics();
        }
        return metrics;
    }

    /** The output sink's end-to-end latency histogram (worst subtask), or NaN if the REST API did not answer. */
    private static double metric(Map<String, Double> metrics, String suffix) {
        return metrics.entrySet().stream()
                .filter(e -> e.getKey().contains("output") && e.getKey().endsWith("endToEndLatencyMs" + suffix))
                .mapToDouble(Map.Entry::getValue).max().orElse(Double.NaN);
    }

    static long percentile(long[] sorted, int p) {
        if (sorted.length == 0) {
            return -1;
        }
        int index = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, index))];
    }

    private static void print(List<Row> rows, Settings settings, PrintStream out) {
        out.printf("%ndedup-only pipeline, parallelism %d, exactly-once output, latency = input record timestamp -> "
                + "received by a read_committed consumer; steady rows count records sent after a %s warm-up%n",
                settings.parallelism(), settings.warmup());
        out.printf("| checkpoint interval | load | input events/s | output events/s | records | p50 ms | p99 ms | "
                + "p99 / interval | endToEndLatencyMs p50 / p99 (metric) | checkpoints: count, duration p99 / max ms |%n");
        out.printf("|---|---|---|---|---|---|---|---|---|---|%n");
        for (Row r : rows) {
            out.printf("| %s | %s | %s | %,.0f | %,d | %,d | %,d | %.2f | %s / %s | %s |%n", r.interval(), r.load(),
                    r.inputRate() > 0 ? String.format("%,.0f", r.inputRate()) : "-", r.throughput(), r.count(), r.p50(),
                    r.p99(), r.p99() / (double) r.interval().toMillis(), format(r.metricP50()), format(r.metricP99()),
                    r.checkpoints().map(c -> String.format("%d, %,d / %,d", c.completed(), c.p99(), c.max())).orElse("0"));
        }
    }

    private static String format(double value) {
        return Double.isNaN(value) ? "-" : String.format("%,.0f", value);
    }

    /**
     * Reads the output topic {@code read_committed} from its start on a thread of its own and keeps,
     * per record, its input timestamp (the output's {@code origin.timestamp}) and when it arrived.
     */
    static final class OutputWatcher {
        private final String bootstrap;
        private final String topic;
        private final int partitions;
        private final AtomicBoolean running = new AtomicBoolean(true);
        private final List<long[]> arrivals = new ArrayList<>();
        private Thread thread;
        private volatile Exception failure;

        OutputWatcher(String bootstrap, String topic, int partitions) {
            this.bootstrap = bootstrap;
            this.topic = topic;
            this.partitions = partitions;
        }

        void start() {
            thread = new Thread(this::poll, "latency-watcher-" + topic);
            thread.setDaemon(true);
            thread.start();
        }

        private void poll() {
            Properties props = new Properties();
            props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
            props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
            props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
            props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
            try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props, new ByteArrayDeserializer(),
                    new ByteArrayDeserializer())) {
                List<TopicPartition> assigned = new ArrayList<>();
                for (int p = 0; p < partitions; p++) {
                    assigned.add(new TopicPartition(topic, p));
                }
                consumer.assign(assigned);
                consumer.seekToBeginning(assigned);
                while (running.get()) {
                    for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(50))) {
                        long now = System.currentTimeMillis();
                        long sent = originTimestamp(record.value());
                        synchronized (arrivals) {
                            arrivals.add(new long[] {sent, now});
                            arrivals.notifyAll();
                        }
                    }
                }
            } catch (Exception e) {
                failure = e;
                synchronized (arrivals) {
                    arrivals.notifyAll();
                }
            }
        }

        private static long originTimestamp(byte[] value) throws IOException {
            JsonNode json = JSON.readTree(value);
            return json.path("origin").path("timestamp").asLong();
        }

        /** Waits until {@code count} records arrived; returns when the last of them did. */
        long awaitCount(int count) throws Exception {
            long deadline = System.currentTimeMillis() + PATIENCE.toMillis();
            synchronized (arrivals) {
                while (arrivals.size() < count) {
                    if (failure != null) {
                        throw new IllegalStateException("reading " + topic + " failed", failure);
                    }
                    long left = deadline - System.currentTimeMillis();
                    if (left <= 0) {
                        throw new IllegalStateException("only " + arrivals.size() + " of " + count + " records in " + topic
                                + " within " + PATIENCE);
                    }
                    arrivals.wait(left);
                }
                return arrivals.stream().mapToLong(a -> a[1]).max().orElse(0);
            }
        }

        /** Latencies (ms, sorted) of the records whose input timestamp is in {@code [from, until]}. */
        long[] latenciesOfRecordsSentBetween(long from, long until) {
            synchronized (arrivals) {
                long[] latencies = arrivals.stream().filter(a -> a[0] >= from && a[0] <= until).mapToLong(a -> a[1] - a[0])
                        .toArray();
                Arrays.sort(latencies);
                return latencies;
            }
        }

        void stop() throws InterruptedException {
            running.set(false);
            if (thread != null) {
                thread.join(TimeUnit.SECONDS.toMillis(10));
            }
        }
    }
}
