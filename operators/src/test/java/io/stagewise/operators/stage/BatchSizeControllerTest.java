package io.stagewise.operators.stage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.function.IntPredicate;
import org.junit.jupiter.api.Test;

/** The batch size controller as pure logic, against a modelled dependency: latency = base + items x per-item cost. */
class BatchSizeControllerTest {
    private static final long TARGET = 200_000; // µs

    /** Sends full batches (backlog) to a dependency with {@code perItemMicros}; returns the batches until {@code done}. */
    private static int runUntil(BatchSizeController c, long baseMicros, long perItemMicros, IntPredicate done,
                                int limit) {
        for (int batches = 1; batches <= limit; batches++) {
            int items = c.size();
            c.onBatch(c.epoch(), items, true, baseMicros + items * perItemMicros, 0);
            if (done.test(c.size())) {
                return batches;
            }
        }
        return -1;
    }

    @Test
    void convergesDownWhenThePerItemCostStepsUpAndBackUpWhenItFalls() {
        BatchSizeController c = new BatchSizeController(1, 500, TARGET);
        // 5 ms per item: the target allows about 36 items (20 ms base)
        assertThat(runUntil(c, 20_000, 5_000, size -> size >= 30, 100)).as("grows to the target").isBetween(1, 40);
        int fast = c.size();
        assertThat(fast).isBetween(30, 40);
        // 100 ms per item: the target allows one item
        int down = runUntil(c, 20_000, 100_000, size -> size <= 2, 100);
        assertThat(down).as("batches until the size is down").isBetween(1, 3);
        // A few more slow batches keep it there (at most two items may meet a 200 ms target).
        runUntil(c, 20_000, 100_000, size -> false, 20);
        assertThat(c.size()).isBetween(1, 2);
        // back to 5 ms per item
        int up = runUntil(c, 20_000, 5_000, size -> size >= 30, 200);
        assertThat(up).as("batches until the size is back up").isBetween(1, 60);
        runUntil(c, 20_000, 5_000, size -> false, 50);
        assertThat(c.size()).as("stays at or under what meets the target").isBetween(30, 36);
    }

    @Test
    void growsOnlyWithBacklog() {
        BatchSizeController c = new BatchSizeController(1, 100, TARGET);
        for (int i = 0; i < 50; i++) {
            c.onBatch(c.epoch(), c.size(), false, 1_000, 0); // sent by the linger timer: a quiet stream
        }
        assertThat(c.size()).isEqualTo(1);
        c.onBatch(c.epoch(), 1, true, 1_000, 0);
        assertThat(c.size()).isEqualTo(1 + (100 - 1) / BatchSizeController.GROWTH_STEPS);
    }

    @Test
    void retryableFailuresHalveTheSizeOncePerOverload() {
        BatchSizeController c = new BatchSizeController(1, 1000, TARGET);
        runUntil(c, 0, 10, size -> size >= 400, 1000);
        int before = c.size();
        long epoch = c.epoch();
        c.onBatch(epoch, before, true, 50_000, 3);
        assertThat(c.size()).isEqualTo(before / 2);
        // batches already in flight at the old size report the same overload: no further cut
        c.onBatch(epoch, before, true, 50_000, before);
        c.onBatch(epoch, before, true, 5_000_000, 0);
        assertThat(c.size()).isEqualTo(before / 2);
        // a batch sent after the cut that fails again cuts again
        c.onBatch(c.epoch(), c.size(), true, 50_000, 1);
        assertThat(c.size()).isEqualTo(before / 4);
    }

    @Test
    void aFixedSizeNeverMovesAndBoundsHold() {
        BatchSizeController fixed = new BatchSizeController(10, 10, TARGET);
        fixed.onBatch(0, 10, true, 10_000_000, 10);
        fixed.onBatch(0, 10, true, 1, 0);
        assertThat(fixed.size()).isEqualTo(10);
        BatchSizeController c = new BatchSizeController(5, 50, TARGET);
        c.onBatch(c.epoch(), 5, true, 10_000_000, 5);
        assertThat(c.size()).isEqualTo(5);
        runUntil(c, 0, 1, size -> false, 200);
        assertThat(c.size()).isEqualTo(50);
        assertThatThrownBy(() -> new BatchSizeController(0, 5, TARGET)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new BatchSettings(BatchSettings.DEFAULT_LINGER, 10, 5, BatchSettings.DEFAULT_LATENCY_TARGET))
                .hasMessageContaining("--max-batch");
    }
}
