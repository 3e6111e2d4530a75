package io.stagewise.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.stagewise.jobs.audit.AuditReport;
import io.stagewise.testkit.PaymentGenerator;
import io.stagewise.jobs.local.FlinkRest;
import io.stagewise.jobs.local.LocalFlink;
import io.stagewise.operators.stage.Workflow;
import io.stagewise.testkit.EmbeddedKafka;
import io.stagewise.testkit.FreePorts;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Exactly-once delivery through a task failure: a real KRaft broker, a real Flink mini cluster with
 * RocksDB and checkpoints, 10,000 records with 5% duplicates and malformed ones, and an exception
 * thrown in every subtask mid-stream, after a checkpoint and with uncommitted output in flight.
 */
class ExactlyOnceITCase {
    @TempDir
    Path tmp;

    @Test
    void everyDistinctIdOnceInTheOutputAfterAnExceptionMidStream() throws Exception {
        PaymentGenerator.Plan plan = PaymentGenerator.plan(new PaymentGenerator.Settings(10_000, 0.05, 0.002, 7, 50));
        int half = plan.records().size() / 2;
        try (EmbeddedKafka kafka = EmbeddedKafka.start(tmp.resolve("kafka"))) {
            String bootstrap = kafka.bootstrapServers();
            Topics.createAll(bootstrap, 4, List.of(PipelineTestSupport.INPUT));
            PaymentGenerator.send(plan.records().subList(0, half), bootstrap, PipelineTestSupport.INPUT, 0, n -> { });

            Configuration conf = FlinkSettings.defaults(Duration.ofMillis(300), tmp.resolve("checkpoints"));
            conf.set(StagewiseOptions.BOOTSTRAP_SERVERS, bootstrap);
            // Each subtask throws at its first event after the first completed checkpoint.
            conf.set(StagewiseOptions.INJECT_FAILURE_AFTER, 1L);
            PipelineSettings settings = PipelineSettings.from(conf);
            Topics.Layout layout = PipelineJob.prepareTopics(settings);
            int port = FreePorts.pick();
            StreamExecutionEnvironment env = LocalFlink.withDashboard(conf, port);
            env.setParallelism(2);
            PipelineJob.assemble(env, settings, Endpoints.production(settings, layout,
                    Workflow.named("dedup-only").build()));
            JobClient job = env.executeAsync("exactly-once-it");
            try {
                FlinkRest rest = new FlinkRest(LocalFlink.dashboardUrl(port), job.getJobID());
                // The first half is committed: a checkpoint completed, the injector is armed.
                PipelineTestSupport.awaitOutput(bootstrap, 1, Duration.ofSeconds(90));
                PaymentGenerator.send(plan.records().subList(half, plan.records().size()), bootstrap,
                        PipelineTestSupport.INPUT, 0, n -> { });

                PipelineTestSupport.awaitCaughtUp(bootstrap, plan, Duration.ofSeconds(120));
                await("the injected failure restarted the job").atMost(Duration.ofSeconds(30))
                        .until(() -> rest.restarts() >= 1);
                long caughtUpAt = rest.latestCheckpoint().map(c -> c[0]).orElseThrow();
                await("one more checkpoint, so anything in flight commits").atMost(Duration.ofSeconds(30))
                        .until(() -> rest.latestCheckpoint().map(c -> c[0]).orElse(0L) > caughtUpAt);
            } finally {
                job.cancel().get(30, TimeUnit.SECONDS);
            }

            AuditReport report = PipelineTestSupport.audit(bootstrap, plan);
            assertThat(report.passed()).as(report.render()).isTrue();
            assertThat(report.count("completed")).isEqualTo(plan.validIds().size());
            assertThat(report.count("outputRecords")).isEqualTo(plan.validIds().size());
            assertThat(report.count("deadLetters")).isEqualTo(plan.malformed());
            assertThat(plan.duplicates()).isGreaterThan(400);
            assertThat(plan.malformed()).isGreaterThan(5);
        }
    }
}
