package io.stagewise.bench;

import static org.assertj.core.api.Assertions.assertThat;

import io.stagewise.jobs.Topics;
import io.stagewise.operators.stage.Workflow;
import io.stagewise.testkit.Sandbox;
import java.time.Duration;
import java.util.List;
import org.apache.flink.configuration.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The benchmarks' pipeline jobs run at the parallelism a suite asks for, whatever the local default. */
class PipelineBenchmarkITCase {
    @RegisterExtension
    static final Sandbox SANDBOX = new Sandbox();

    @Test
    void aPipelineJobRunsAtTheParallelismItIsGiven() throws Exception {
        String bootstrap = SANDBOX.kafka().bootstrapServers();
        Topics.createAll(bootstrap, 2, List.of("bench.in"));
        PipelineBenchmark bench = new PipelineBenchmark(bootstrap, "bench.in", 2, Duration.ofSeconds(1),
                SANDBOX.dir().resolve("checkpoints"));

        for (int parallelism : new int[] {1, 3}) {
            PipelineBenchmark.Job job = bench.pipelineJob("bench.in", Workflow.named("dedup-only").build(), parallelism,
                    new Configuration());
            // Before the fix, FlinkSettings' local parallelism.default (2) overrode it: bench stages (b) and
            // bench batching measured 2 subtasks where their tables said 1.
            assertThat(job.env().getParallelism()).as("parallelism of %s", job.name()).isEqualTo(parallelism);
        }
    }
}
