package io.stagewise.operators.latency;

import static org.assertj.core.api.Assertions.assertThat;

import org.apache.flink.metrics.HistogramStatistics;
import org.apache.flink.streaming.util.OneInputStreamOperatorTestHarness;
import org.junit.jupiter.api.Test;

/** Latency is measured at the checkpoint that commits a record, never before, never twice. */
class CommitLatencyOperatorTest {
    @Test
    void recordsAreMeasuredWhenTheCheckpointThatCommitsThemCompletes() throws Exception {
        CommitLatencyOperator<Long> operator = new CommitLatencyOperator<>("output", ts -> ts);
        try (OneInputStreamOperatorTestHarness<Long, Long> harness = new OneInputStreamOperatorTestHarness<>(operator)) {
            harness.open();
            harness.setProcessingTime(10_000);
            harness.processElement(1_000L, 0);
            harness.processElement(2_000L, 0);
            harness.snapshot(1, 10_000);
            harness.processElement(9_000L, 0); // after barrier 1: commits with checkpoint 2
            harness.snapshot(2, 10_000);

            assertThat(harness.extractOutputValues()).containsExactly(1_000L, 2_000L, 9_000L);
            assertThat(operator.latency().getCount()).isZero();

            harness.setProcessingTime(12_000);
            harness.notifyOfCompletedCheckpoint(1);
            HistogramStatistics first = operator.latency().getStatistics();
            assertThat(operator.latency().getCount()).isEqualTo(2);
            assertThat(first.getMin()).isEqualTo(10_000);
            assertThat(first.getMax()).isEqualTo(11_000);

            harness.setProcessingTime(15_000);
            harness.notifyOfCompletedCheckpoint(1); // a repeated notification measures nothing again
            harness.notifyOfCompletedCheckpoint(2);
            assertThat(operator.latency().getCount()).isEqualTo(3);
            assertThat(operator.latency().getStatistics().getMin()).isEqualTo(6_000);
        }
    }

    @Test
    void anAbortedCheckpointsRecordsAreMeasuredWithTheNextCompletedOne() throws Exception {
        CommitLatencyOperator<Long> operator = new CommitLatencyOperator<>("ledger", ts -> ts);
        try (OneInputStreamOperatorTestHarness<Long, Long> harness = new OneInputStreamOperatorTestHarness<>(operator)) {
            harness.open();
            harness.processElement(100L, 0);
            harness.snapshot(1, 0);
            operator.notifyCheckpointAborted(1);
            harness.processElement(200L, 0);
            harness.snapshot(2, 0);
            harness.setProcessingTime(1_000);

            harness.notifyOfCompletedCheckpoint(2);

            assertThat(operator.latency().getCount()).isEqualTo(2);
            assertThat(operator.latency().getStatistics().getMax()).isEqualTo(900);
        }
    }

    @Test
    void aLargeCheckpointIsSampledNotStoredWhole() throws Exception {
        CommitLatencyOperator<Long> operator = new CommitLatencyOperator<>("output", ts -> ts);
        try (OneInputStreamOperatorTestHarness<Long, Long> harness = new OneInputStreamOperatorTestHarness<>(operator)) {
            harness.open();
            for (long i = 0; i < 3 * CommitLatencyOperator.SAMPLES_PER_CHECKPOINT; i++) {
                harness.processElement(i % 1_000, 0);
            }
            harness.snapshot(1, 0);
            harness.setProcessingTime(1_000);
            harness.notifyOfCompletedCheckpoint(1);

            assertThat(operator.latency().getCount()).isEqualTo(CommitLatencyOperator.SAMPLES_PER_CHECKPOINT);
            assertThat(operator.latency().getStatistics().getMin()).isBetween(1L, 50L);
            assertThat(operator.latency().getStatistics().getMax()).isBetween(950L, 1_000L);
        }
    }
}
