package io.stagewise.operators.stage;

import static org.assertj.core.api.Assertions.assertThat;

import io.stagewise.operators.event.FailureReason;
import io.stagewise.operators.retry.RetryLadder;
import java.time.Duration;
import java.util.List;
import org.apache.flink.metrics.testutils.MetricListener;
import org.junit.jupiter.api.Test;

/** Metric names follow Flink's conventions: reasons, ladder steps and stages are key/value groups. */
class StageMetricsTest {
    @Test
    void reasonsStepsAndStagesAreKeyValueGroups() {
        MetricListener listener = new MetricListener();
        Workflow workflow = Workflow.named("w").local("validate", ctx -> null)
                .remote("charge", new ScriptedStage("charge")).build();
        CallSlots slots = new CallSlots(List.of("charge"), stage -> InFlightLimit.fixed(5));
        slots.startCall("k", "e1", "charge");
        slots.startCall("k", "e2", "charge");
        StageMetrics metrics = new StageMetrics(listener.getMetricGroup().addGroup("stagewise"), workflow,
                new RetryLadder(2, Duration.ofSeconds(5), 4), slots, () -> 42L);

        metrics.deadLettered(FailureReason.EXHAUSTED).inc();
        metrics.retriesSent(2).inc(3);
        metrics.stage("validate").attempts.inc();

        assertThat(listener.getCounter("stagewise", "reason", "exhausted", "deadLettered")).get()
                .extracting(c -> c.getCount()).isEqualTo(1L);
        assertThat(listener.getCounter("stagewise", "reason", "malformed", "deadLettered")).isPresent();
        assertThat(listener.getCounter("stagewise", "step", "2", "retriesSent")).get()
                .extracting(c -> c.getCount()).isEqualTo(3L);
        assertThat(listener.getCounter("stagewise", "stage", "validate", "attempts")).get()
                .extracting(c -> c.getCount()).isEqualTo(1L);
        assertThat(listener.getCounter("stagewise", "deadLettered", "exhausted")).as("the old name is gone").isEmpty();
        assertThat(listener.getCounter("stagewise", "retryStep", "2", "sent")).as("the old name is gone").isEmpty();
        assertThat(listener.<Integer>getGauge("stagewise", "inFlight")).get().extracting(g -> g.getValue()).isEqualTo(2);
        assertThat(listener.<Integer>getGauge("stagewise", "stage", "charge", "inFlight")).get()
                .extracting(g -> g.getValue()).isEqualTo(2);
        assertThat(listener.<Integer>getGauge("stagewise", "stage", "charge", "inFlightLimit")).get()
                .extracting(g -> g.getValue()).isEqualTo(5);
        assertThat(listener.getGauge("stagewise", "stage", "validate", "inFlightLimit")).as("local stages have no limit")
                .isEmpty();
        assertThat(listener.getCounter("stagewise", "retryRecordsResent")).isPresent();
    }
}
