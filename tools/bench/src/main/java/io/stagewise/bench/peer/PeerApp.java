package io.stagewise.bench.peer;

import com.sun.management.OperatingSystemMXBean;
import io.stagewise.bench.PipelineBenchmark;
import io.stagewise.bench.StageBenchmark;
import io.stagewise.operators.stage.Workflow;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.execution.JobClient;
import org.apache.kafka.streams.KafkaStreams;

/**
 * One application of {@code stagewise bench peer} in a JVM of its own, so that its CPU time is its
 * own (not the broker's, not the other application's) and Flink's RocksDB and Kafka Streams' RocksDB
 * (two builds of {@code org.rocksdb}) never share a class path.
 *
 * <p>Protocol on stdout/stdin with {@link PeerBenchmark}: prints {@code PEER READY <cpu ns>} once the
 * application runs, waits for a line {@code stop} on stdin, prints {@code PEER DONE <cpu ns>} (the
 * process CPU time so far, JVM start-up included), then shuts the application down and exits.
 *
 * <p>Arguments: {@code streams|stagewise bootstrap input name interval-ms parallelism work-dir workflow};
 * the output topic is {@code <name>.out}.
 */
public final class PeerApp {
    static final String READY = "PEER READY ";
    static final String DONE = "PEER DONE ";
    static final String STOP = "stop";

    private PeerApp() {}

    public static void main(String[] args) throws Exception {
        String app = args[0];
        String bootstrap = args[1];
        String input = args[2];
        String name = args[3];
        Duration interval = Duration.ofMillis(Long.parseLong(args[4]));
        int parallelism = Integer.parseInt(args[5]);
        Path workDir = Path.of(args[6]);
        String workflow = args[7];
        BufferedReader stdin = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        if (app.equals(PeerBenchmark.STREAMS)) {
            int partitions = Integer.parseInt(args[8]);
            KafkaStreams streams = PeerStreamsApp.start(PeerStreamsApp.topology(input, name + ".out", partitions),
                    PeerStreamsApp.config(name, bootstrap, interval, parallelism, workDir.resolve("state")));
            report(READY);
            awaitStop(stdin);
            report(DONE);
            streams.close(Duration.ofSeconds(30));
        } else {
            PipelineBenchmark bench = new PipelineBenchmark(bootstrap, input, parallelism, interval,
                    workDir.resolve("checkpoints"));
            Workflow stages = workflow.equals("local") ? StageBenchmark.localWorkflow() : Workflow.named("dedup-only").build();
            PipelineBenchmark.Job job = bench.pipelineJob(name, input, stages, parallelism, new Configuration());
            JobClient client = job.env().executeAsync(name);
            report(READY);
            awaitStop(stdin);
            report(DONE);
            stop(client, Duration.ofSeconds(60));
        }
        System.exit(0);
    }

    /**
     * Cancels the job and returns once it has reached its terminal state, i.e. once every task has
     * closed its operators (RocksDB instances, Kafka producers and their transactions). The cancel
     * future alone completes when the cluster has accepted the request, while the tasks are still
     * tearing down: a {@code System.exit} in that window raced the teardown, and the JVM sometimes did
     * not exit ({@code bench peer}: "did not exit within 60 s after stop").
     */
    static void stop(JobClient client, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        client.cancel().get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        try {
            client.getJobExecutionResult().get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (ExecutionException cancelled) {
            // The expected end of a cancelled job: its result is the cancellation.
        }
    }

    private static void awaitStop(BufferedReader stdin) throws Exception {
        String line;
        while ((line = stdin.readLine()) != null) {
            if (line.trim().equals(STOP)) {
                return;
            }
        }
    }

    private static void report(String what) {
        long cpu = ((OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
        System.out.println(what + cpu);
        System.out.flush();
    }
}
