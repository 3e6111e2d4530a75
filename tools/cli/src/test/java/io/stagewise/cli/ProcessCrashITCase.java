package io.stagewise.cli;

import io.stagewise.jobs.Topics;
import io.stagewise.jobs.PipelineTestSupport;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.stagewise.jobs.audit.AuditReport;
import io.stagewise.testkit.PaymentGenerator;
import io.stagewise.testkit.EmbeddedKafka;
import io.stagewise.testkit.FreePorts;
import io.stagewise.savepoints.Checkpoints;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Exactly-once delivery through a killed process: {@code stagewise run} in a child JVM is killed
 * with SIGKILL mid-stream (records in flight, a Kafka transaction open), then started again with
 * {@code --restore latest}. Input offsets, dedup state and output transactions must all resume
 * from the same retained checkpoint.
 */
class ProcessCrashITCase {
    @TempDir
    Path tmp;

    @Test
    void killMinusNineThenRestoreLatest() throws Exception {
        PaymentGenerator.Plan plan = PaymentGenerator.plan(new PaymentGenerator.Settings(10_000, 0.05, 0.002, 11, 50));
        Path checkpoints = tmp.resolve("checkpoints");
        try (EmbeddedKafka kafka = EmbeddedKafka.start(tmp.resolve("kafka"))) {
            String bootstrap = kafka.bootstrapServers();
            Topics.createAll(bootstrap, 4, List.of(PipelineTestSupport.INPUT));
            Topics.createAll(bootstrap, 4, List.of(PipelineTestSupport.OUTPUT));

            Process first = startRun(bootstrap, checkpoints, null, "first");
            int half = plan.records().size() / 2;
            AtomicLong sentOfSecondHalf = new AtomicLong();
            CompletableFuture<Void> producing;
            try {
                // First half: the job commits output and retains a checkpoint.
                PaymentGenerator.send(plan.records().subList(0, half), bootstrap, PipelineTestSupport.INPUT, 0, n -> { });
                PipelineTestSupport.awaitOutput(bootstrap, 1, Duration.ofSeconds(120));
                await("a retained checkpoint").atMost(Duration.ofSeconds(60))
                        .until(() -> Checkpoints.latest(checkpoints).isPresent());
                // Second half, paced: the kill lands while records are arriving and in flight.
                producing = CompletableFuture.runAsync(() -> PaymentGenerator.send(
                        plan.records().subList(half, plan.records().size()), bootstrap, PipelineTestSupport.INPUT,
                        1500, sentOfSecondHalf::set));
                await("the second half flowing").atMost(Duration.ofSeconds(30)).until(() -> sentOfSecondHalf.get() >= 500);
            } finally {
                first.destroyForcibly(); // SIGKILL: no shutdown hook, no clean cancel
                assertThat(first.waitFor(30, TimeUnit.SECONDS)).isTrue();
            }
            assertThat(half + sentOfSecondHalf.get()).as("killed mid-stream, input still arriving")
                    .isLessThan(plan.records().size());

            Process second = startRun(bootstrap, checkpoints, "latest", "second");
            try {
                producing.get(120, TimeUnit.SECONDS);
                PipelineTestSupport.awaitCaughtUp(bootstrap, plan, Duration.ofSeconds(180));
                FileTime caughtUpAt = Checkpoints.latest(checkpoints).orElseThrow().completedAt();
                await("one more checkpoint, so anything in flight commits").atMost(Duration.ofSeconds(60))
                        .until(() -> Checkpoints.latest(checkpoints).orElseThrow().completedAt().compareTo(caughtUpAt) > 0);
            } finally {
                second.destroy();
                second.waitFor(60, TimeUnit.SECONDS);
                second.destroyForcibly();
            }
            // Checkpoint locations are Flink filesystem URIs; a local directory is a file: URI.
            assertThat(Files.readString(tmp.resolve("second.out"))).contains("Restoring from file:" + checkpoints.toAbsolutePath());

            AuditReport report = PipelineTestSupport.audit(bootstrap, plan);
            assertThat(report.passed()).as(report.render()).isTrue();
            assertThat(report.count("outputRecords")).isEqualTo(plan.validIds().size());
            assertThat(report.count("deadLetters")).isEqualTo(plan.malformed());
        }
    }

    private Process startRun(String bootstrap, Path checkpoints, String restore, String name) throws Exception {
        List<String> args = new ArrayList<>(List.of("run", "--bootstrap-servers", bootstrap,
                "--checkpoint-dir", checkpoints.toString(),
                "--checkpoint-interval", "300ms",
                "--parallelism", "2",
                "--workflow", "dedup-only",
                "--dashboard-port", Integer.toString(FreePorts.pick())));
        if (restore != null) {
            args.addAll(List.of("--restore", restore));
        }
        File out = tmp.resolve(name + ".out").toFile();
        return new ProcessBuilder(CliRun.processCommand(args))
                .redirectErrorStream(true)
                .redirectOutput(out)
                .start();
    }
}
