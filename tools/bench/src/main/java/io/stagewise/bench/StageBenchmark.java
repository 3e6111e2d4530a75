package io.stagewise.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.stagewise.testkit.Directories;
import io.stagewise.jobs.StagewiseException;
import io.stagewise.jobs.StagewiseOptions;
import io.stagewise.jobs.Topics;
import io.stagewise.jobs.audit.TopicReader;
import io.stagewise.gateway.GatewayServer;
import io.stagewise.gateway.GatewaySettings;
import io.stagewise.testkit.PaymentGenerator;
import io.stagewise.jobs.payments.PaymentsWorkflow;
import io.stagewise.testkit.EmbeddedKafka;
import io.stagewise.testkit.EmbeddedPostgres;
import io.stagewise.operators.stage.StageContext;
import io.stagewise.operators.stage.StageSettings;
import io.stagewise.operators.stage.Workflow;
import java.io.PrintStream;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Throughput of the stage engine, in one process, on one embedded Kafka broker, over prefixes of one
 * generated input (the generator is deterministic, so N records are the first N of any longer plan),
 * with the runs of every round interleaved and the median counted (after warm-up runs of part (a),
 * not counted, so the first job does not pay for the JIT alone):
 *
 * <ol>
 *   <li>the cost of local stages: the pipeline with {@link #localWorkflow()} ({@code validate},
 *       {@code enrich}, {@code route}, all on the task thread) against the same pipeline with no
 *       stages ({@code dedup-only}, the pass-through slot);
 *   <li>the effect of concurrency on remote stages: the payments workflow ({@code validate} →
 *       {@code charge} → {@code notify}) against the real {@link GatewayServer} (idempotency keys in
 *       an embedded PostgreSQL) with an added latency, at each in-flight limit per remote stage, fixed
 *       and adaptive (a limit of 1 runs once: both modes are the same there). A fresh database and
 *       gateway per run keep idempotency keys from colliding across runs (a repeat would be a replay).
 * </ol>
 *
 * <p>Each run reads its input to the end and finishes (bounded), commits its output exactly once
 * (Kafka transactions, final checkpoint included), and is checked before it counts: the output
 * holds every distinct valid payment, and with the gateway every payment was charged exactly once.
 * A run that fails the check stops the benchmark; its time would measure something else.
 */
public final class StageBenchmark {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration READ_OUTPUT_TIMEOUT = Duration.ofMinutes(2);

    /** What to measure; validated on construction. */
    public record Settings(PaymentGenerator.Settings generator, int localEvents, int rounds, int warmupRounds, int localParallelism,
                           int remoteParallelism, List<Integer> inFlight, List<Integer> remoteEvents,
                           Duration gatewayLatency, Duration checkpointInterval,
                           List<StagewiseOptions.Concurrency> concurrency) {
        public Settings {
            if (warmupRounds < 0) {
                throw new StagewiseException("--warmup-rounds must be >= 0, got " + warmupRounds);
            }
            if (rounds < 1 || localParallelism < 1 || remoteParallelism < 1) {
                throw new StagewiseException("--rounds, --parallelism and --remote-parallelism must be >= 1");
            }
            if (localEvents < 1) {
                throw new StagewiseException("--events must be >= 1, got " + localEvents);
            }
            inFlight = List.copyOf(inFlight);
            remoteEvents = List.copyOf(remoteEvents);
            concurrency = List.copyOf(concurrency);
            if (concurrency.isEmpty()) {
                throw new StagewiseException("--concurrency needs at least one of 'fixed', 'adaptive'");
            }
            if (inFlight.size() != remoteEvents.size()) {
                throw new StagewiseException("--remote-events needs one count per --in-flight value: got "
                        + remoteEvents + " for " + inFlight);
            }
            for (int i = 0; i < inFlight.size(); i++) {
                if (inFlight.get(i) < 1 || remoteEvents.get(i) < 1) {
                    throw new StagewiseException("--in-flight and --remote-events values must be >= 1, got "
                            + inFlight + " and " + remoteEvents);
                }
            }
            if (gatewayLatency.isNegative()) {
                throw new StagewiseException("--gateway-latency must be >= 0, got " + gatewayLatency);
            }
        }
    }

    private enum Kind { PASS_THROUGH, LOCAL, PAYMENTS }

    /** One configuration measured once per round. */
    private record Case(String label, Kind kind, Input input, int parallelism, int maxInFlight,
                        StagewiseOptions.Concurrency concurrency) {}

    /** An input topic and the plan of what it holds. */
    private record Input(String topic, PaymentGenerator.Plan plan) {
        int records() {
            return plan.records().size();
        }

        int payments() {
            return plan.validIds().size();
        }
    }

    private final Settings settings;
    private final PrintStream out;
    /** Times per case, by identity: a case holds its whole input plan. */
    private final Map<Case, List<Double>> seconds = new IdentityHashMap<>();
    private int gatewayRuns;

    private StageBenchmark(Settings settings, PrintStream out) {
        this.settings = settings;
        this.out = out;
    }

    /** Runs the whole benchmark in a temporary directory, printing a line per run and then the table. */
    public static void run(Settings settings, PrintStream out) throws Exception {
        new StageBenchmark(settings, out).run();
    }

    /**
     * {@code validate} (the payments stage), then two cheap local stages: {@code enrich} (amount in
     * minor units and a fee) and {@code route} (an acquirer by currency and account). Every output is
     * recorded in the event's progress, as any stage's is.
     */
    public static Workflow localWorkflow() {
        return Workflow.named("payments-local")
                .local(PaymentsWorkflow.VALIDATE, PaymentsWorkflow::validate)
                .local("enrich", StageBenchmark::enrich)
                .local("route", StageBenchmark::route)
                .build();
    }

    static JsonNode enrich(StageContext ctx) {
        BigDecimal amount = new BigDecimal(ctx.output(PaymentsWorkflow.VALIDATE).path("amount").asText());
        ObjectNode out = JSON.createObjectNode();
        out.put("amount_minor", amount.movePointRight(2).setScale(0, RoundingMode.HALF_EVEN).longValueExact());
        out.put("fee", amount.multiply(new BigDecimal("0.0025")).setScale(2, RoundingMode.HALF_EVEN).toPlainString());
        return out;
    }

    static JsonNode route(StageContext ctx) {
        JsonNode valid = ctx.output(PaymentsWorkflow.VALIDATE);
        int acquirer = Math.floorMod((valid.path("currency").asText() + valid.path("account").asText()).hashCode(), 4);
        ObjectNode out = JSON.createObjectNode();
        out.put("acquirer", "acq-" + acquirer);
        return out;
    }

    private void run() throws Exception {
        String noDelay = gatewayNoDelay();
        Path dir = Files.createTempDirectory("stagewise-bench-stages-");
        try (EmbeddedKafka kafka = EmbeddedKafka.start(dir.resolve("kafka"));
                EmbeddedPostgres postgres = EmbeddedPostgres.start(dir.resolve("postgres"))) {
            String bootstrap = kafka.bootstrapServers();
            Map<Integer, Input> inputs = produce(bootstrap);
            List<Case> cases = cases(inputs);
            PipelineBenchmark bench = new PipelineBenchmark(bootstrap, inputs.get(settings.localEvents()).topic(),
                    settings.localParallelism(), settings.checkpointInterval(), dir.resolve("checkpoints"));
            out.printf("Gateway sockets: %s=%s%n", GatewayServer.NO_DELAY_PROPERTY, noDelay);
            for (int i = 1; i <= settings.warmupRounds(); i++) {
                for (Case c : cases) {
                    if (c.kind() != Kind.PAYMENTS) {
                        double s = measure(bench, bootstrap, postgres, c);
                        out.printf("warm-up    %-36s %,8d records %7.2f s (not counted)%n", c.label(), c.input().records(), s);
                    }
                }
            }
            for (int round = 1; round <= settings.rounds(); round++) {
                for (Case c : cases) {
                    double s = measure(bench, bootstrap, postgres, c);
                    seconds.computeIfAbsent(c, k -> new ArrayList<>()).add(s);
                    out.printf("round %d/%d  %-36s %,8d records %7.2f s %,9.0f events/s%s%n", round, settings.rounds(),
                            c.label(), c.input().records(), s, c.input().records() / s,
                            c.kind() == Kind.PAYMENTS ? String.format(" (%,.0f payments/s, each charged once)",
                                    c.input().payments() / s) : "");
                    out.flush();
                }
            }
            report(cases);
        } finally {
            Directories.deleteRecursively(dir);
        }
    }

    /** What the gateway's sockets run with ({@link GatewayServer} sets it unless given with -D). */
    static String gatewayNoDelay() {
        GatewayServer.enableNoDelay();
        return System.getProperty(GatewayServer.NO_DELAY_PROPERTY);
    }

    /** One topic per distinct size, each holding the first N records of the same generated sequence. */
    private Map<Integer, Input> produce(String bootstrap) throws Exception {
        List<Integer> sizes = new ArrayList<>();
        sizes.add(settings.localEvents());
        sizes.addAll(settings.remoteEvents());
        sizes = sizes.stream().distinct().sorted().toList();
        List<String> topics = sizes.stream().map(size -> "bench.payments." + size).toList();
        Topics.createAll(bootstrap, settings.localParallelism(), topics);
        Map<Integer, Input> inputs = new LinkedHashMap<>();
        for (int i = 0; i < sizes.size(); i++) {
            PaymentGenerator.Settings g = settings.generator();
            PaymentGenerator.Plan plan = PaymentGenerator.plan(new PaymentGenerator.Settings(sizes.get(i),
                    g.duplicateRate(), g.malformedRate(), g.seed(), g.accounts()));
            out.printf("Producing %,d records to %s (%,d distinct payments) ...%n", sizes.get(i), topics.get(i),
                    plan.validIds().size());
            PaymentGenerator.send(plan, bootstrap, topics.get(i), 0, n -> { });
            inputs.put(sizes.get(i), new Input(topics.get(i), plan));
        }
        return inputs;
    }

    private List<Case> cases(Map<Integer, Input> inputs) {
        List<Case> cases = new ArrayList<>();
        Input local = inputs.get(settings.localEvents());
        StagewiseOptions.Concurrency none = StagewiseOptions.CONCURRENCY.defaultValue();
        cases.add(new Case("pass-through (dedup-only)", Kind.PASS_THROUGH, local, settings.localParallelism(),
                StageSettings.DEFAULT_MAX_IN_FLIGHT, none));
        cases.add(new Case("local (validate, enrich, route)", Kind.LOCAL, local, settings.localParallelism(),
                StageSettings.DEFAULT_MAX_IN_FLIGHT, none));
        for (int i = 0; i < settings.inFlight().size(); i++) {
            int n = settings.inFlight().get(i);
            // At a limit of 1 both modes are the same (the adaptive floor is 1): one run.
            List<StagewiseOptions.Concurrency> modes = n == 1 ? settings.concurrency().subList(0, 1) : settings.concurrency();
            for (StagewiseOptions.Concurrency mode : modes) {
                cases.add(new Case("payments via gateway, " + mode + " " + n, Kind.PAYMENTS,
                        inputs.get(settings.remoteEvents().get(i)), settings.remoteParallelism(), n, mode));
            }
        }
        return cases;
    }

    /** Seconds of one checked run of {@code c}; the gateway (if any) is started before and stopped after the clock. */
    private double measure(PipelineBenchmark bench, String bootstrap, EmbeddedPostgres postgres, Case c) throws Exception {
        if (c.kind() != Kind.PAYMENTS) {
            Workflow workflow = c.kind() == Kind.LOCAL ? localWorkflow() : Workflow.named("dedup-only").build();
            PipelineBenchmark.Run run = bench.pipeline(c.input().topic(), workflow, c.parallelism(), c.maxInFlight());
            checkOutput(bootstrap, run, c);
            return run.seconds();
        }
        String database = postgres.createDatabase("bench_gateway_" + (++gatewayRuns));
        GatewaySettings gatewaySettings = GatewaySettings.builder().latency(settings.gatewayLatency()).build();
        try (GatewayServer gateway = GatewayServer.start(gatewaySettings, database)) {
            PipelineBenchmark.Run run = bench.pipeline(c.input().topic(), PaymentsWorkflow.create(gateway.url()),
                    c.parallelism(), c.maxInFlight(), c.concurrency());
            checkOutput(bootstrap, run, c);
            Map<String, Integer> charges = gateway.effectiveCharges();
            long once = charges.values().stream().filter(n -> n == 1).count();
            if (charges.size() != c.input().payments() || once != charges.size()) {
                throw new StagewiseException(run.name() + " (" + c.label() + "): the gateway holds charges for "
                        + charges.size() + " payments (" + once + " charged once), expected " + c.input().payments()
                        + " each charged once; see the log for dead letters and retries");
            }
            return run.seconds();
        }
    }

    private static void checkOutput(String bootstrap, PipelineBenchmark.Run run, Case c) {
        int completed = TopicReader.readAll(bootstrap, run.outputTopic(), READ_OUTPUT_TIMEOUT).size();
        if (completed != c.input().payments()) {
            throw new StagewiseException(run.name() + " (" + c.label() + ") completed " + completed
                    + " events, expected " + c.input().payments() + " (every distinct valid payment once); see "
                    + Topics.dlq(c.input().topic()) + " and the log");
        }
    }

    private void report(List<Case> cases) {
        int rounds = settings.rounds();
        out.printf("%nMedian of %d rounds; wall-clock time of each job, start-up and final checkpoint included; "
                + "checkpoint interval %d ms.%n", rounds, settings.checkpointInterval().toMillis());
        out.printf("events/s = input records (%.1f%% duplicates, %.1f%% malformed) / s; payments/s = distinct valid "
                        + "payments / s.%n", 100 * settings.generator().duplicateRate(),
                100 * settings.generator().malformedRate());

        out.printf("%n(a) local stages vs pass-through, parallelism %d%n", settings.localParallelism());
        out.printf("  %-36s %9s %9s %12s%n", "job", "records", "median s", "events/s");
        double passThrough = 0;
        double local = 0;
        for (Case c : cases) {
            if (c.kind() == Kind.PAYMENTS) {
                continue;
            }
            double s = median(seconds.get(c));
            double rate = c.input().records() / s;
            out.printf("  %-36s %,9d %9.2f %,12.0f%n", c.label(), c.input().records(), s, rate);
            if (c.kind() == Kind.PASS_THROUGH) {
                passThrough = rate;
            } else {
                local = rate;
            }
        }
        out.printf("  ratio local/pass-through: %.2f%n", local / passThrough);

        if (settings.inFlight().isEmpty()) {
            return;
        }
        long latencyMs = settings.gatewayLatency().toMillis();
        out.printf("%n(b) payments workflow (validate -> charge -> notify) against the gateway (PostgreSQL keys), "
                + "added latency %d ms per call, parallelism %d%n", latencyMs, settings.remoteParallelism());
        out.printf("  %-12s %-11s %9s %9s %9s %12s %12s %16s%n", "in flight", "concurrency", "records", "payments",
                "median s", "events/s", "payments/s", "bound payments/s");
        List<Case> remote = new ArrayList<>();
        List<Double> paymentRates = new ArrayList<>();
        for (Case c : cases) {
            if (c.kind() != Kind.PAYMENTS) {
                continue;
            }
            double s = median(seconds.get(c));
            double paymentsPerSecond = c.input().payments() / s;
            remote.add(c);
            paymentRates.add(paymentsPerSecond);
            // Each remote stage has its own slots (charge and notify run side by side): a payment holds one
            // slot of each stage for at least the latency of its call there.
            String bound = latencyMs == 0 ? "-" : String.format("%,.0f", (double) c.maxInFlight() * c.parallelism()
                    * 1000 / latencyMs);
            out.printf("  %-12d %-11s %,9d %,9d %9.2f %,12.0f %,12.0f %16s%n", c.maxInFlight(), c.concurrency(),
                    c.input().records(), c.input().payments(), s, c.input().records() / s, paymentsPerSecond, bound);
        }
        for (int i = 1; i < paymentRates.size(); i++) {
            out.printf("  ratio %s %d / %s %d (payments/s): %.1f%n", remote.get(i).concurrency(), remote.get(i).maxInFlight(),
                    remote.get(0).concurrency(), remote.get(0).maxInFlight(), paymentRates.get(i) / paymentRates.get(0));
        }
    }

    public static double median(List<Double> values) {
        List<Double> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }

}
