package io.stagewise.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.stagewise.testkit.Directories;
import io.stagewise.jobs.StagewiseException;
import io.stagewise.jobs.StagewiseOptions;
import io.stagewise.jobs.Topics;
import io.stagewise.jobs.audit.TopicReader;
import io.stagewise.gateway.Fault;
import io.stagewise.gateway.FaultPolicy;
import io.stagewise.gateway.GatewayServer;
import io.stagewise.gateway.GatewaySettings;
import io.stagewise.testkit.PaymentGenerator;
import io.stagewise.jobs.payments.PaymentsWorkflow;
import io.stagewise.testkit.EmbeddedKafka;
import io.stagewise.testkit.EmbeddedPostgres;
import io.stagewise.operators.retry.RetryLadder;
import io.stagewise.operators.stage.RetrySettings;
import io.stagewise.operators.stage.StageContext;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.flink.api.common.serialization.SimpleStringSchema;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.flink.core.execution.JobClient;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;

/**
 * Failure isolation: how fast healthy payments get through while a share of payments hits a
 * dependency call that always fails, with Stagewise's retry ladder against a plain Flink job that
 * retries in line. Four cases, in one process, on one embedded Kafka broker, over one generated
 * input, rounds interleaved, medians (after uncounted warm-up runs of the two no-failure cases):
 *
 * <ol>
 *   <li>Stagewise, no failures: the pipeline with the payments workflow ({@code validate} →
 *       {@code charge} → {@code notify}) against the real {@link GatewayServer} with an added latency.
 *   <li>Stagewise, failing: the same, but the gateway answers 503 to every {@code charge} request of
 *       a fixed share of the payments (chosen by seed; {@link #failingPayments}). Those use up the
 *       in-operator attempts and climb the retry ladder ({@link Settings#ladder()}), then go to the DLQ.
 *   <li>In line, no failures: {@link InlineRetryJob}, the same calls in
 *       {@code AsyncDataStream.orderedWaitWithRetry} with Flink's exponential backoff, capacity equal
 *       to Stagewise's max-in-flight, output {@code EXACTLY_ONCE} to Kafka.
 *   <li>In line, failing: the same, against the same failing payments.
 * </ol>
 *
 * <p>What is measured: healthy payments per second. A run starts the job unbounded and reads its
 * output topic {@code read_committed} as it runs; the clock runs from job submission (start-up
 * included) until the last healthy payment is committed in the output, and the job is then
 * cancelled. In the failing cases the healthy payments are the others (90% by default), and the
 * failing ones are not waited for: by then they are still in the retry ladder or already in the
 * DLQ (Stagewise), or still being retried in the operator (in line). A run that reaches the time
 * cap stops there and counts healthy payments committed by the cap over the cap: this is how the
 * in-line variant with failures is measured, since ordered output holds every later payment behind
 * each failing one for its whole retry budget.
 *
 * <p>Each run gets its own input topic (the same records; so Stagewise's retry and DLQ topics are
 * its own), output topic, PostgreSQL database and gateway, so idempotency keys never meet across
 * runs. Each run is checked before it counts: no payment twice in the output, no failing payment
 * completed, every completed payment charged exactly once and no failing one charged.
 */
public final class IsolationBenchmark {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration JOB_STOP_TIMEOUT = Duration.ofMinutes(1);

    /**
     * What to measure; validated on construction.
     *
     * @param inFlight Stagewise's {@code stagewise.stage.max-in-flight}, and the in-line operator's capacity
     * @param ladder Stagewise's retry topics (the in-operator retry keeps its defaults)
     * @param timeCap the longest a run may take; a run that reaches it counts what is committed by then
     */
    public record Settings(PaymentGenerator.Settings generator, double failingShare, Duration gatewayLatency,
                           int inFlight, int parallelism, int rounds, int warmupRounds, Duration checkpointInterval,
                           Duration timeCap, RetryLadder ladder, InlineRetryJob.Settings inline) {
        public Settings {
            if (!(failingShare > 0 && failingShare < 1)) {
                throw new StagewiseException("--failing-share must be in (0, 1), got " + failingShare);
            }
            if (gatewayLatency.isNegative()) {
                throw new StagewiseException("--gateway-latency must be >= 0, got " + gatewayLatency);
            }
            if (inFlight < 1 || parallelism < 1 || rounds < 1 || warmupRounds < 0) {
                throw new StagewiseException("--in-flight, --parallelism and --rounds must be >= 1, --warmup-rounds >= 0");
            }
            if (timeCap.isNegative() || timeCap.isZero()) {
                throw new StagewiseException("--time-cap must be positive, got " + timeCap);
            }
            if (inline.capacity() != inFlight) {
                throw new StagewiseException("the in-line capacity (" + inline.capacity() + ") must equal --in-flight ("
                        + inFlight + ")");
            }
        }
    }

    private enum Variant { STAGEWISE, IN_LINE }

    /** One configuration measured once per round. */
    private record Case(String label, Variant variant, boolean failing) {}

    /**
     * One checked run: seconds on the clock, healthy payments committed by then, whether the cap
     * stopped it, and the charge requests each failing payment had made by then (on average).
     */
    private record Measurement(double seconds, int healthyCompleted, boolean capped, double failingChargeRequests) {
        double rate() {
            return healthyCompleted / seconds;
        }
    }

    private final Settings settings;
    private final PrintStream out;
    private final Map<Case, List<Measurement>> measurements = new IdentityHashMap<>();
    private PaymentGenerator.Plan plan;
    private Set<String> failing;
    private Set<String> healthyWhenFailing;
    private int runs;

    private IsolationBenchmark(Settings settings, PrintStream out) {
        this.settings = settings;
        this.out = out;
    }

    /** Runs the whole benchmark in a temporary directory, printing a line per run and then the table. */
    public static void run(Settings settings, PrintStream out) throws Exception {
        new IsolationBenchmark(settings, out).run();
    }

    /**
     * Exactly {@code round(share x n)} of {@code paymentIds}, picked by a shuffle seeded with
     * {@code seed}: the same payments fail in every run and every variant.
     */
    public static Set<String> failingPayments(Collection<String> paymentIds, double share, long seed) {
        List<String> ids = new ArrayList<>(paymentIds);
        Collections.sort(ids);
        Collections.shuffle(ids, new Random(seed));
        return Set.copyOf(ids.subList(0, (int) Math.round(share * ids.size())));
    }

    /** 503 for every {@code charge} request of a failing payment, whatever the attempt; nothing else. */
    static FaultPolicy chargesAlwaysFailFor(Set<String> failingIds) {
        return FaultPolicy.firstRequests("charges", key -> failingIds.contains(paymentId(key)), Integer.MAX_VALUE,
                Fault.TRANSIENT);
    }

    /** The payment id in an idempotency key {@code <payment id>:<stage>[:<generation>]}. */
    static String paymentId(String idempotencyKey) {
        int colon = idempotencyKey.indexOf(':');
        return colon < 0 ? idempotencyKey : idempotencyKey.substring(0, colon);
    }

    private void run() throws Exception {
        String noDelay = StageBenchmark.gatewayNoDelay();
        plan = PaymentGenerator.plan(settings.generator());
        failing = failingPayments(plan.validIds(), settings.failingShare(), settings.generator().seed());
        healthyWhenFailing = new HashSet<>(plan.validIds());
        healthyWhenFailing.removeAll(failing);
        List<Case> cases = List.of(
                new Case("Stagewise, no failures", Variant.STAGEWISE, false),
                new Case("Stagewise, " + percent() + " failing", Variant.STAGEWISE, true),
                new Case("in-line retry, no failures", Variant.IN_LINE, false),
                new Case("in-line retry, " + percent() + " failing", Variant.IN_LINE, true));
        Path dir = Files.createTempDirectory("stagewise-bench-isolation-");
        try (EmbeddedKafka kafka = EmbeddedKafka.start(dir.resolve("kafka"));
                EmbeddedPostgres postgres = EmbeddedPostgres.start(dir.resolve("postgres"))) {
            // No input of its own: every run names its input topic.
            PipelineBenchmark bench = new PipelineBenchmark(kafka.bootstrapServers(), null, settings.parallelism(),
                    settings.checkpointInterval(), dir.resolve("checkpoints"));
            out.printf("Gateway sockets: %s=%s%n", GatewayServer.NO_DELAY_PROPERTY, noDelay);
            out.printf("Input: %,d payments (no duplicates, none malformed), %,d of them (%s) failing: every charge "
                    + "request answered 503%n", plan.validIds().size(), failing.size(), percent());
            out.printf("Stagewise retries: %s; in-line retries: %s%n", stagewiseRetries(), settings.inline());
            for (int i = 1; i <= settings.warmupRounds(); i++) {
                for (Case c : cases) {
                    if (!c.failing()) {
                        Measurement m = measure(bench, kafka.bootstrapServers(), postgres, c);
                        out.printf("warm-up    %-32s %7.2f s (not counted)%n", c.label(), m.seconds());
                    }
                }
            }
            for (int round = 1; round <= settings.rounds(); round++) {
                for (Case c : cases) {
                    Measurement m = measure(bench, kafka.bootstrapServers(), postgres, c);
                    measurements.computeIfAbsent(c, k -> new ArrayList<>()).add(m);
                    out.printf("round %d/%d  %-32s %,6d healthy committed in %6.2f s%s %,8.0f healthy/s%s%n", round,
                            settings.rounds(), c.label(), m.healthyCompleted(), m.seconds(), m.capped() ? " (cap)" : "      ",
                            m.rate(), c.failing() ? String.format(" (%.1f charge requests per failing payment so far)",
                                    m.failingChargeRequests()) : "");
                    out.flush();
                }
            }
            report(cases);
        } finally {
            Directories.deleteRecursively(dir);
        }
    }

    /** One checked run of {@code c} with its own input topic, database and gateway. */
    private Measurement measure(PipelineBenchmark bench, String bootstrap, EmbeddedPostgres postgres, Case c)
            throws Exception {
        int run = ++runs;
        String input = "bench.isolation." + run;
        Topics.createAll(bootstrap, settings.parallelism(), List.of(input));
        PaymentGenerator.send(plan, bootstrap, input, 0, n -> { });
        Set<String> healthy = c.failing() ? healthyWhenFailing : plan.validIds();
        Set<String> failingIds = c.failing() ? failing : Set.of();
        GatewaySettings gatewaySettings = GatewaySettings.builder()
                .latency(settings.gatewayLatency())
                .faults(c.failing() ? chargesAlwaysFailFor(failing) : FaultPolicy.none())
                .build();
        String database = postgres.createDatabase("bench_isolation_" + run);
        try (GatewayServer gateway = GatewayServer.start(gatewaySettings, database)) {
            PipelineBenchmark.Job job = c.variant() == Variant.STAGEWISE
                    ? stagewiseJob(bench, input, gateway.url())
                    : inlineJob(bench, bootstrap, input, gateway.url());
            long start = System.nanoTime();
            JobClient client = job.env().executeAsync(job.name());
            Set<String> completed = new HashSet<>();
            Measurement m;
            try {
                double seconds = watch(bootstrap, job, client, start, healthy, failingIds, completed);
                int healthyCompleted = (int) completed.stream().filter(healthy::contains).count();
                m = new Measurement(seconds, healthyCompleted, healthyCompleted < healthy.size(),
                        failingChargeRequests(gateway, failingIds));
            } finally {
                stop(client);
            }
            check(job, c, gateway, completed, failingIds);
            return m;
        }
    }

    private PipelineBenchmark.Job stagewiseJob(PipelineBenchmark bench, String input, String gatewayUrl) {
        Configuration options = new Configuration();
        options.set(StagewiseOptions.MAX_IN_FLIGHT, settings.inFlight());
        options.set(StagewiseOptions.RETRY_TOPICS, settings.ladder().steps());
        if (settings.ladder().steps() > 0) {
            options.set(StagewiseOptions.RETRY_TOPICS_INITIAL_DELAY, settings.ladder().delay(1));
            if (settings.ladder().steps() > 1) {
                options.set(StagewiseOptions.RETRY_TOPICS_MULTIPLIER,
                        (double) settings.ladder().delay(2).toMillis() / settings.ladder().delay(1).toMillis());
            }
        }
        return bench.pipelineJob(input, PaymentsWorkflow.create(gatewayUrl), settings.parallelism(), options);
    }

    private PipelineBenchmark.Job inlineJob(PipelineBenchmark bench, String bootstrap, String input, String gatewayUrl) {
        String name = bench.nextName("inline");
        String output = name + ".out";
        Topics.createAll(bootstrap, settings.parallelism(), List.of(output));
        KafkaSource<String> source = KafkaSource.<String>builder()
                .setBootstrapServers(bootstrap)
                .setTopics(input)
                .setGroupId(name)
                .setStartingOffsets(OffsetsInitializer.earliest())
                .setValueOnlyDeserializer(new SimpleStringSchema())
                .setProperty("isolation.level", "read_committed")
                .build();
        var env = bench.environment(name, settings.parallelism());
        InlineRetryJob.build(env, source, InlineRetryJob.sink(bootstrap, output, name), gatewayUrl, settings.inline());
        return new PipelineBenchmark.Job(name, env, output);
    }

    /**
     * Reads the job's output {@code read_committed} while it runs, adding payment ids to
     * {@code completed}, until every healthy payment is there or the time cap is reached; returns
     * the seconds since {@code start} at that moment.
     */
    private double watch(String bootstrap, PipelineBenchmark.Job job, JobClient client, long start, Set<String> healthy,
                         Set<String> failingIds, Set<String> completed) {
        CompletableFuture<?> result = client.getJobExecutionResult();
        long cap = start + settings.timeCap().toNanos();
        int healthyCompleted = 0;
        try (KafkaConsumer<byte[], byte[]> consumer = TopicReader.consumer(bootstrap)) {
            List<TopicPartition> partitions = consumer.partitionsFor(job.outputTopic(), Duration.ofSeconds(10)).stream()
                    .map(p -> new TopicPartition(job.outputTopic(), p.partition()))
                    .collect(Collectors.toList());
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            while (true) {
                for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(20))) {
                    String id = paymentIdOf(record.value());
                    if (!completed.add(id)) {
                        throw new StagewiseException(job.name() + " wrote payment " + id + " twice to "
                                + job.outputTopic() + " (read_committed): not exactly once");
                    }
                    if (failingIds.contains(id)) {
                        throw new StagewiseException(job.name() + " completed payment " + id
                                + ", whose charge always fails: the fault policy did not apply");
                    }
                    if (healthy.contains(id)) {
                        healthyCompleted++;
                    }
                }
                long now = System.nanoTime();
                if (healthyCompleted == healthy.size()) {
                    return (now - start) / 1e9;
                }
                if (now >= cap) {
                    return settings.timeCap().toNanos() / 1e9;
                }
                if (result.isDone()) {
                    throw new StagewiseException(job.name() + " ended before its healthy payments were committed ("
                            + healthyCompleted + " of " + healthy.size() + "); see the log");
                }
            }
        }
    }

    private static String paymentIdOf(byte[] value) {
        try {
            return JSON.readTree(value).path("id").asText();
        } catch (IOException e) {
            throw new StagewiseException("an output record is not JSON: " + e.getMessage(), e);
        }
    }

    /** Cancels the job and waits for it to end (its mini cluster shuts down with it). */
    private static void stop(JobClient client) throws Exception {
        try {
            client.cancel().get(JOB_STOP_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            // already ended: the result below says how
        }
        client.getJobExecutionResult().handle((r, e) -> null).get(JOB_STOP_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
    }

    /** Every completed payment charged exactly once, no payment charged twice, no failing one charged. */
    private static void check(PipelineBenchmark.Job job, Case c, GatewayServer gateway, Set<String> completed,
                              Set<String> failingIds) {
        Map<String, Integer> charges = gateway.effectiveCharges();
        for (String id : completed) {
            if (charges.getOrDefault(id, 0) != 1) {
                throw new StagewiseException(job.name() + " (" + c.label() + "): completed payment " + id + " has "
                        + charges.getOrDefault(id, 0) + " charges in the gateway, expected 1");
            }
        }
        for (Map.Entry<String, Integer> charge : charges.entrySet()) {
            if (charge.getValue() > 1 || failingIds.contains(charge.getKey())) {
                throw new StagewiseException(job.name() + " (" + c.label() + "): payment " + charge.getKey() + " has "
                        + charge.getValue() + " charges" + (failingIds.contains(charge.getKey())
                        ? " although every charge request of it is answered 503" : ", expected at most 1"));
            }
        }
    }

    private static double failingChargeRequests(GatewayServer gateway, Set<String> failingIds) {
        if (failingIds.isEmpty()) {
            return 0;
        }
        Map<String, Integer> requests = gateway.requestCounts("charges");
        long total = 0;
        for (String id : failingIds) {
            total += requests.getOrDefault(StageContext.idempotencyKey(id, PaymentsWorkflow.CHARGE, 1), 0);
        }
        return (double) total / failingIds.size();
    }

    private String percent() {
        return String.format("%.0f%%", 100 * settings.failingShare());
    }

    /**
     * The in-operator retry (defaults, nominal backoffs without jitter) in each tier, then each
     * retry topic's delay; with totals for a payment that always fails.
     */
    private String stagewiseRetries() {
        RetrySettings retry = RetrySettings.DEFAULTS;
        long tierBackoff = 0;
        for (int failed = 1; failed < retry.maxAttempts(); failed++) {
            tierBackoff += Math.min(retry.maxBackoff().toMillis(),
                    Math.round(retry.initialBackoff().toMillis() * Math.pow(retry.multiplier(), failed - 1)));
        }
        long ladderDelay = 0;
        for (int step = 1; step <= settings.ladder().steps(); step++) {
            ladderDelay += settings.ladder().delay(step).toMillis();
        }
        int tiers = settings.ladder().steps() + 1;
        return String.format("%d attempts per tier (%d ms x%s, the defaults), %s, then the DLQ: %d calls and %.1f s of "
                        + "delays in all", retry.maxAttempts(), retry.initialBackoff().toMillis(), retry.multiplier(),
                settings.ladder(), tiers * retry.maxAttempts(), (tiers * tierBackoff + ladderDelay) / 1000.0);
    }

    private void report(List<Case> cases) {
        out.printf("%nFailure isolation: payments workflow (validate -> charge -> notify) against the gateway "
                        + "(PostgreSQL keys), added latency %d ms per call, parallelism %d, %d calls in flight per subtask "
                        + "(Stagewise max-in-flight = in-line capacity), checkpoint interval %d ms.%n",
                settings.gatewayLatency().toMillis(), settings.parallelism(), settings.inFlight(),
                settings.checkpointInterval().toMillis());
        out.printf("healthy/s = healthy payments committed in the output (read_committed) / seconds from job submission "
                + "until the last of them is committed, or until the %d s cap; median of %d rounds. Failing payments "
                + "are not waited for; the job is cancelled once the healthy ones are committed.%n",
                settings.timeCap().toSeconds(), settings.rounds());
        out.printf("%,d payments, %,d (%s) failing: every charge request answered 503. Stagewise retries: %s. "
                        + "In-line retries: %s; Flink's exponential backoff keeps its last delay in the one strategy "
                        + "instance of the subtask, so concurrent failing payments shift each other's delays.%n%n",
                plan.validIds().size(), failing.size(), percent(), stagewiseRetries(), settings.inline());
        out.printf("  %-32s %9s %9s %9s %12s%n", "case", "healthy", "committed", "median s", "healthy/s");
        double[] rates = new double[cases.size()];
        for (int i = 0; i < cases.size(); i++) {
            Case c = cases.get(i);
            List<Measurement> ms = measurements.get(c);
            rates[i] = StageBenchmark.median(ms.stream().map(Measurement::rate).toList());
            int healthy = c.failing() ? healthyWhenFailing.size() : plan.validIds().size();
            double committed = StageBenchmark.median(ms.stream().map(m -> (double) m.healthyCompleted()).toList());
            double seconds = StageBenchmark.median(ms.stream().map(Measurement::seconds).toList());
            boolean capped = ms.stream().anyMatch(Measurement::capped);
            out.printf("  %-32s %,9d %,9.0f %9.2f %,12.0f%s%n", c.label(), healthy, committed, seconds, rates[i],
                    capped ? "  (time cap)" : "");
        }
        out.printf("%n  ratio failing / no failures, Stagewise:     %.2f%n", rates[1] / rates[0]);
        out.printf("  ratio failing / no failures, in-line retry: %.3f%n", rates[3] / rates[2]);
    }
}
