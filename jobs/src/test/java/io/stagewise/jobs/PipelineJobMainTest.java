package io.stagewise.jobs;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/**
 * {@code flink run -c io.stagewise.jobs.PipelineJob}: user errors come back as one message naming
 * the problem, thrown (never {@code System.exit}, which would end this test's JVM, and in
 * application mode the JobManager).
 */
class PipelineJobMainTest {
    @Test
    void aMissingRequiredFlagIsNamed() {
        assertThatThrownBy(() -> PipelineJob.main(new String[] {"--workflow", "dedup-only"}))
                .isInstanceOf(StagewiseException.class)
                .hasMessageContaining("--bootstrap-servers");
    }

    @Test
    void aBadEnumeratedValueIsNamed() {
        assertThatThrownBy(() -> PipelineJob.main(new String[] {"--bootstrap-servers", "127.0.0.1:1", "--ordering", "sorted"}))
                .isInstanceOf(StagewiseException.class)
                .hasMessageContaining("ordering must be 'unordered' or 'per-key'");
    }

    @Test
    void anUnreachableBrokerIsNamed() {
        assertThatThrownBy(() -> PipelineJob.main(new String[] {"--bootstrap-servers", "127.0.0.1:1", "--workflow",
                "dedup-only", "--checkpoint-dir", "target/main-test-checkpoints"}))
                .isInstanceOf(StagewiseException.class)
                .hasMessageContaining("cannot reach a Kafka broker at 127.0.0.1:1");
    }

    @Test
    void helpPrintsUsageAndReturns() {
        assertThatCode(() -> PipelineJob.main(new String[] {"--help"})).doesNotThrowAnyException();
    }
}
