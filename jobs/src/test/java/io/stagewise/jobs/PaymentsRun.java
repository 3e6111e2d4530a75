package io.stagewise.jobs;

import static org.awaitility.Awaitility.await;

import io.stagewise.jobs.audit.Audit;
import io.stagewise.jobs.audit.AuditReport;
import io.stagewise.jobs.audit.TopicReader;
import io.stagewise.gateway.GatewayServer;
import io.stagewise.gateway.GatewaySettings;
import io.stagewise.testkit.PaymentGenerator;
import io.stagewise.jobs.local.FlinkRest;
import io.stagewise.jobs.local.LocalFlink;
import io.stagewise.jobs.payments.PaymentsLedger;
import io.stagewise.testkit.EmbeddedKafka;
import io.stagewise.testkit.EmbeddedPostgres;
import io.stagewise.testkit.FreePorts;
import io.stagewise.operators.ingest.EventParser;
import io.stagewise.operators.stage.Workflow;
import io.stagewise.savepoints.Checkpoints;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.StateRecoveryOptions;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/**
 * One run of the payments pipeline for a test: its own topics, its own database (gateway and
 * ledger), its own gateway, on a shared Kafka broker and PostgreSQL server.
 */
final class PaymentsRun implements AutoCloseable {
    private static final AtomicInteger RUN = new AtomicInteger();

    final EmbeddedKafka kafka;
    final Path tmp;
    final String input = "payments-" + RUN.incrementAndGet();
    final Audit.Topics topics;
    final GatewayServer gateway;
    final PaymentsLedger.Database ledger;
    final PaymentGenerator.Plan plan;
    private Workflow workflow;
    private Consumer<Configuration> tweak;
    JobClient job;
    FlinkRest rest;

    PaymentsRun(EmbeddedKafka kafka, EmbeddedPostgres postgres, Path tmp, GatewaySettings.Builder gateway,
                int events, long seed) {
        this.kafka = kafka;
        this.tmp = tmp;
        this.topics = PipelineTestSupport.topics(kafka.bootstrapServers(), input, input + ".completed");
        String database = postgres.createDatabase("run_" + input.replace('-', '_'));
        this.gateway = GatewayServer.start(gateway.build(), database);
        this.ledger = new PaymentsLedger.Database(database, null, null);
        this.plan = PaymentGenerator.plan(new PaymentGenerator.Settings(events, 0.05, 0.0, seed, 10));
        Topics.createAll(kafka.bootstrapServers(), 2, List.of(input));
    }

    Path checkpoints() {
        return tmp.resolve("checkpoints-" + input);
    }

    void start(Workflow workflow, Consumer<Configuration> tweak) throws Exception {
        this.workflow = workflow;
        this.tweak = tweak;
        submit(null);
    }

    /** Cancels the job (its checkpoints are retained) and starts it again from the newest one. */
    void restartFromLatestCheckpoint() throws Exception {
        job.cancel().get(30, TimeUnit.SECONDS);
        submit(Checkpoints.latest(checkpoints()).orElseThrow().location());
    }

    private void submit(String restorePath) throws Exception {
        Configuration conf = FlinkSettings.defaults(Duration.ofMillis(500), checkpoints());
        conf.set(StagewiseOptions.BOOTSTRAP_SERVERS, kafka.bootstrapServers());
        conf.set(StagewiseOptions.INPUT_TOPIC, input);
        conf.set(StagewiseOptions.OUTPUT_TOPIC, topics.output());
        conf.set(StagewiseOptions.RETRY_INITIAL_BACKOFF, Duration.ofMillis(50));
        conf.set(StagewiseOptions.CALL_TIMEOUT, Duration.ofSeconds(10));
        tweak.accept(conf);
        if (restorePath != null) {
            conf.set(StateRecoveryOptions.SAVEPOINT_PATH, restorePath);
        }
        PipelineSettings settings = PipelineSettings.from(conf);
        Topics.Layout layout = PipelineJob.prepareTopics(settings);
        int port = FreePorts.pick();
        StreamExecutionEnvironment env = LocalFlink.withDashboard(conf, port);
        env.setParallelism(2);
        PipelineJob.assemble(env, settings, Endpoints.production(settings, layout, workflow)
                .withLedger(PaymentsLedger.sink(ledger, settings.ledgerTransactionPrefix())));
        job = env.executeAsync(input);
        rest = new FlinkRest(LocalFlink.dashboardUrl(port), job.getJobID());
    }

    void produce(int ratePerSecond) {
        PaymentGenerator.send(plan, kafka.bootstrapServers(), input, ratePerSecond, n -> { });
    }

    void produce(List<PaymentGenerator.Record> records) {
        PaymentGenerator.send(records, kafka.bootstrapServers(), input, 0, n -> { });
    }

    /** Waits for the job's first completed checkpoint (before any input: an injected failure then comes mid-stream). */
    void awaitFirstCheckpoint() {
        await("a completed checkpoint").atMost(Duration.ofSeconds(120)).until(() -> rest.latestCheckpoint().isPresent());
    }

    /** Waits until every planned payment is settled and one more checkpoint committed, then audits. */
    AuditReport settle() {
        PipelineTestSupport.awaitSettled(topics, plan, Duration.ofSeconds(120));
        long settledAt = rest.latestCheckpoint().map(c -> c[0]).orElse(0L);
        await("one more checkpoint, so anything in flight commits").atMost(Duration.ofSeconds(30))
                .until(() -> rest.latestCheckpoint().map(c -> c[0]).orElse(0L) > settledAt);
        return audit();
    }

    AuditReport audit() {
        return Audit.run(topics, EventParser.DEFAULT_MAX_EVENT_BYTES, Optional.of(new Audit.Expected(plan.records().size(), plan.validIds(), plan.malformed(), plan::sumsFor)),
                Optional.of(gateway.effectiveCharges()), Optional.of(ledger));
    }

    List<ConsumerRecord<byte[], byte[]>> read(String topic) {
        return TopicReader.readAll(kafka.bootstrapServers(), topic, Duration.ofSeconds(30));
    }

    List<ConsumerRecord<byte[], byte[]>> deadLetters() {
        return read(topics.dlq());
    }

    static String header(ConsumerRecord<byte[], byte[]> record, String name) {
        var header = record.headers().lastHeader(name);
        return header == null ? null : new String(header.value(), StandardCharsets.UTF_8);
    }

    @Override
    public void close() throws Exception {
        try {
            if (job != null) {
                job.cancel().get(30, TimeUnit.SECONDS);
            }
        } catch (Exception e) {
            // already cancelled or finished
        } finally {
            gateway.close();
        }
    }
}
