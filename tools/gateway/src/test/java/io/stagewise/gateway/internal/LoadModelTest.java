package io.stagewise.gateway.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class LoadModelTest {
    @Test
    void theItemCostStepsFromTheBatchThatFindsTheGivenItemsAdmitted() {
        LoadModel load = new LoadModel(Duration.ofMillis(20), Duration.ZERO, 0);
        load.stepItemLatencyAfter(10, Duration.ofMillis(5));
        assertThat(load.admit(6)).isTrue();
        assertThat(load.batchLatency(6)).isEqualTo(Duration.ofMillis(20));
        // 6 admitted before it: still fast, although it carries the count past 10
        assertThat(load.admit(6)).isTrue();
        assertThat(load.batchLatency(6)).isEqualTo(Duration.ofMillis(20));
        assertThat(load.admit(2)).isTrue();
        assertThat(load.batchLatency(2)).isEqualTo(Duration.ofMillis(30));
    }

    @Test
    void aRefusedBatchIsNotCounted() {
        LoadModel load = new LoadModel(Duration.ZERO, Duration.ZERO, 10);
        load.stepItemLatencyAfter(5, Duration.ofMillis(1));
        assertThat(load.admit(11)).isFalse();
        assertThat(load.admit(4)).isTrue();
        assertThat(load.admit(1)).isTrue();
        assertThat(load.batchLatency(1)).isEqualTo(Duration.ZERO);
        assertThat(load.admit(1)).isTrue();
        assertThat(load.batchLatency(1)).isEqualTo(Duration.ofMillis(1));
    }
}
