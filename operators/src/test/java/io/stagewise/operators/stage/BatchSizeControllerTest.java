package io.stagewise.operators.stage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntPredicate;
import java.util.function.LongSupplier;
import io.stagewise.operators.stage.BatchSizeController.Drop;
import org.junit.jupiter.api.Test;

/** The batch size controller as pure logic, against a modelled dependency: latency = base + items x per-item cost. */
class BatchSizeControllerTest {
    private static final long TARGET = 200_000; // µs

    /** The controller's clock (nanoseconds), moved by the tests. */
    private long now;
    private final LongSupplier clock = () -> now;

    /**
     * Sends full batches (backlog) to a dependency with {@code perItemMicros}, the window's worth
     * of them per latency; returns the batches until {@code done}.
     */
    private int runUntil(BatchSizeController c, long baseMicros, long perItemMicros, IntPredicate done, int limit) {
        for (int batches = 1; batches <= limit; batches++) {
            int items = c.size();
            long latency = baseMicros + items * perItemMicros;
            now += latency * 1000 / c.window(); // a window of batches is answered in one latency
            c.onBatch(c.epoch(), items, true, latency, 0);
            if (done.test(c.size())) {
                return batches;
            }
        }
        return -1;
    }

    @Test
    void convergesDownWhenThePerItemCostStepsUpAndBackUpWhenItFalls() {
        BatchSizeController c = new BatchSizeController(1, 500, TARGET, 4, clock);
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
    void oneBatchALittleOverTheTargetDoesNotCutButARunOfThemDoes() {
        BatchSizeController c = new BatchSizeController(1, 100, TARGET, 4, clock);
        runUntil(c, 20_000, 1_000, size -> size == 100, 100); // 120 ms at the maximum size
        long epoch = c.epoch();
        // the jitter of a busy machine: one batch at 1.2 x the target
        c.onBatch(c.epoch(), 100, true, 240_000, 0);
        assertThat(c.size()).isEqualTo(100);
        assertThat(c.epoch()).isEqualTo(epoch);
        // the dependency got slower for good: a few such batches bring the smoothed latency over the target
        for (int i = 0; i < 5; i++) {
            c.onBatch(c.epoch(), c.size(), true, 240_000, 0);
        }
        assertThat(c.size()).isLessThanOrEqualTo(90);
        // one far over the target cuts at once, to what its latency predicts
        int before = c.size();
        c.onBatch(c.epoch(), before, true, 1_000_000, 0);
        assertThat(c.size()).isEqualTo(Math.max(1, (int) Math.floor(before * 0.2)));
    }

    @Test
    void growsOnlyWithBacklog() {
        BatchSizeController c = new BatchSizeController(1, 100, TARGET, 4, clock);
        for (int i = 0; i < 50; i++) {
            c.onBatch(c.epoch(), c.size(), false, 1_000, 0); // sent by the linger timer: a quiet stream
        }
        assertThat(c.size()).isEqualTo(1);
        c.onBatch(c.epoch(), 1, true, 1_000, 0);
        assertThat(c.size()).isEqualTo(1 + (100 - 1) / BatchSizeController.GROWTH_STEPS);
    }

    @Test
    void retryableFailuresHalveTheSizeOncePerOverload() {
        BatchSizeController c = new BatchSizeController(1, 1000, TARGET, 4, clock);
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
        BatchSizeController fixed = new BatchSizeController(10, 10, TARGET, 4, clock);
        fixed.onBatch(0, 10, true, 10_000_000, 10);
        fixed.onBatch(0, 10, true, 1, 0);
        assertThat(fixed.size()).isEqualTo(10);
        BatchSizeController c = new BatchSizeController(5, 50, TARGET, 4, clock);
        c.onBatch(c.epoch(), 5, true, 10_000_000, 5);
        assertThat(c.size()).isEqualTo(5);
        runUntil(c, 0, 1, size -> false, 200);
        assertThat(c.size()).isEqualTo(50);
        assertThatThrownBy(() -> new BatchSizeController(0, 5, TARGET, 4, clock)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new BatchSettings(BatchSettings.DEFAULT_LINGER, 10, 5, BatchSettings.DEFAULT_LATENCY_TARGET))
                .hasMessageContaining("--max-batch");
    }

    @Test
    void theWindowStartsAtOneBatchAndOpensOnlyWhenTheSizeCannotGrow() {
        BatchSizeController c = new BatchSizeController(1, 500, TARGET, 4, clock);
        assertThat(c.window()).isEqualTo(1);
        // 20 ms + 20 ms per item: the latency predicts 8 items meet the target; until then only the size grows
        runUntil(c, 20_000, 20_000, size -> size >= 8, 20);
        assertThat(c.window()).isEqualTo(1);
        runUntil(c, 20_000, 20_000, size -> false, 10);
        assertThat(c.size()).isEqualTo(8);
        assertThat(c.window()).as("bounded by the latency, so more batches at once").isEqualTo(4);
        // a fast dependency: the size grows to its maximum first, then the window opens
        BatchSizeController fast = new BatchSizeController(1, 100, TARGET, 4, clock);
        runUntil(fast, 20_000, 0, size -> size == 100, 200);
        assertThat(fast.window()).isEqualTo(1);
        runUntil(fast, 20_000, 0, size -> false, 3);
        assertThat(fast.window()).isEqualTo(4);
    }

    @Test
    void itemsThatWaitedForABatchSlotOpenTheWindowWhenTheBatchesDoNotFill() {
        BatchSizeController c = new BatchSizeController(1, 500, TARGET, 4, clock);
        runUntil(c, 20_000, 0, size -> size >= 100, 100);
        int size = c.size();
        assertThat(c.window()).isEqualTo(1);
        // The engine feeds 60 items per batch latency: the batches go part full, but their items
        // waited for the one batch slot. A bigger size would not fill; more batches at once may.
        for (int i = 0; i < 3; i++) {
            now += 20_000_000;
            c.onBatch(c.epoch(), 60, true, 20_000, 0);
        }
        assertThat(c.size()).isEqualTo(size);
        assertThat(c.window()).isEqualTo(4);
        // a slow one still cuts the size
        c.onBatch(c.epoch(), 60, true, 1_000_000, 0);
        assertThat(c.size()).isLessThan(size);
    }

    @Test
    void aWholeBatchDropHalvesTheWindowAndTheSizeOncePerOverload() {
        BatchSizeController c = new BatchSizeController(1, 500, TARGET, 4, clock);
        runUntil(c, 20_000, 20_000, size -> false, 20);
        assertThat(c.size()).isEqualTo(8);
        assertThat(c.window()).isEqualTo(4);
        assertThat(c.threshold()).isZero();
        long epoch = c.epoch();
        c.onBatch(epoch, 8, true, 1_000, 8, Drop.REFUSED);
        assertThat(c.window()).isEqualTo(2);
        assertThat(c.size()).isEqualTo(4);
        assertThat(c.threshold()).isEqualTo(16);
        // the other batches of that window report the same overload
        c.onBatch(epoch, 8, true, 1_000, 8, Drop.REFUSED);
        c.onBatch(epoch, 8, true, 1_000, 8, Drop.REFUSED);
        assertThat(c.window()).isEqualTo(2);
        assertThat(c.size()).isEqualTo(4);
        // a retryable failure of some items only halves the size, the window stays
        c.onBatch(c.epoch(), 4, true, 1_000, 1, Drop.NONE);
        assertThat(c.size()).isEqualTo(2);
        assertThat(c.window()).isEqualTo(2);
        // a cut for latency since then does not hide the next drop of a batch sent after the first
        long afterDrop = c.epoch();
        c.onBatch(afterDrop, 2, true, 1_000_000, 0, Drop.NONE);
        assertThat(c.size()).isEqualTo(1);
        c.onBatch(afterDrop, 2, true, 1_000, 2, Drop.REFUSED);
        assertThat(c.window()).isEqualTo(1);
        // a fixed size keeps its size and its window
        BatchSizeController fixed = new BatchSizeController(10, 10, TARGET, 4, clock);
        fixed.onBatch(fixed.epoch(), 10, true, 1_000, 10, Drop.REFUSED);
        assertThat(fixed.window()).isEqualTo(4);
        assertThat(fixed.size()).isEqualTo(10);
    }

    @Test
    void afterADropGrowthStopsAtTheThresholdAndThenProbesOneItemPerManyBatches() {
        BatchSizeController c = new BatchSizeController(1, 500, TARGET, 4, clock);
        runUntil(c, 20_000, 0, size -> size >= 40, 100);
        int before = c.size();
        assertThat(c.window()).isEqualTo(1);
        now += 10_000_000_000L; // a timeout: it only halves (a refusal also looks at the rate)
        c.onBatch(c.epoch(), before, true, 10_000_000, before, Drop.TIMED_OUT);
        assertThat(c.size()).isEqualTo(before / 2);
        // back up to the threshold (half of what was out) and no further
        runUntil(c, 20_000, 0, size -> false, 5);
        assertThat(c.size()).isEqualTo(before / 2);
        runUntil(c, 20_000, 0, size -> false, BatchSizeController.PROBE_BATCHES - 6);
        assertThat(c.size()).isEqualTo(before / 2);
        runUntil(c, 20_000, 0, size -> false, 1);
        assertThat(c.size()).as("one item after %d good batches", BatchSizeController.PROBE_BATCHES)
                .isEqualTo(before / 2 + 1);
        runUntil(c, 20_000, 0, size -> false, BatchSizeController.PROBE_BATCHES);
        assertThat(c.size()).isEqualTo(before / 2 + 2);
    }

    @Test
    void aDependencyWithACapacityInItemsOutIsProbedSeldom() {
        // refuses every batch when more than 12 items are out at once (size x window)
        BatchSizeController c = new BatchSizeController(1, 500, TARGET, 4, clock);
        int drops = 0;
        long itemsSent = 0;
        for (int batch = 0; batch < 5_000; batch++) {
            int size = c.size();
            boolean refused = (long) size * c.window() > 12;
            drops += refused ? 1 : 0;
            itemsSent += refused ? 0 : size;
            now += 20_000_000;
            c.onBatch(c.epoch(), size, true, 20_000, refused ? size : 0, refused ? Drop.REFUSED : Drop.NONE);
        }
        assertThat(drops).as("drops in 5,000 batches").isLessThanOrEqualTo(5_000 / BatchSizeController.PROBE_BATCHES);
        assertThat((long) c.size() * c.window()).as("items out at the end").isBetween(6L, 12L);
        assertThat(itemsSent / 5_000.0).as("items per batch on average").isGreaterThan(6.0);
    }

    /**
     * A dependency that takes 400 items/s with a burst of one second's worth (a token bucket, as the
     * gateway's capacity), answers a batch in 20 ms and refuses one that does not fit at once. It
     * gives no sign before the burst is spent; then the first prompt refusal cuts to what it took in
     * the last second, not to half of a size that was growing on the burst.
     */
    @Test
    void aPromptDropCutsToTheRateTheDependencyTookInTheLastSecond() {
        BatchSizeController c = new BatchSizeController(1, 500, TARGET, 4, clock);
        double tokens = 400;
        long refusedItems = 0;
        List<Integer> refused = new ArrayList<>();
        long taken = 0;
        long firstDropAt = -1;
        long takenAfterFirstDrop = 0;
        while (taken < 10_000) {
            int size = c.size();
            boolean fits = size <= tokens;
            long latency = fits ? 20_000 : 1_000;
            now += latency * 1000;
            tokens = Math.min(400, tokens + 400 * latency / 1e6);
            if (fits) {
                tokens -= size;
                taken += size;
                if (firstDropAt >= 0) {
                    takenAfterFirstDrop += size;
                }
            } else {
                refused.add(size);
                refusedItems += size;
                firstDropAt = firstDropAt < 0 ? now : firstDropAt;
            }
            c.onBatch(c.epoch(), size, true, latency, fits ? 0 : size, fits ? Drop.NONE : Drop.REFUSED);
        }
        assertThat(refused).as("refused batches").hasSizeGreaterThan(1);
        // Halving alone cut 115 -> 57 -> 28 -> 14, each a refused batch (66 -> 33 -> 16 -> 8 in the benchmark).
        assertThat(refused.get(1)).as("the batch after the first refused one, of %s", refused)
                .isLessThanOrEqualTo(refused.get(0) / 8 + 1);
        assertThat(refusedItems).as("items refused %s", refused).isLessThan(200);
        assertThat(c.threshold()).as("items out at which it took 400/s with 20 ms per batch: 8").isBetween(4L, 12L);
        double perSecond = takenAfterFirstDrop / ((now - firstDropAt) / 1e9);
        assertThat(perSecond).as("items/s after the first drop").isGreaterThan(200);
    }

    @Test
    void aRefusalHoldsTheNextBatchForOneGoodLatencyAndATimeoutDoesNot() {
        BatchSizeController c = new BatchSizeController(1, 500, TARGET, 4, clock);
        runUntil(c, 40_000, 0, size -> size >= 100, 100); // good batches take 40 ms
        assertThat(c.holdNanos()).isZero();
        c.onBatch(c.epoch(), c.size(), true, 2_000, c.size(), Drop.REFUSED);
        assertThat(c.holdNanos()).isEqualTo(40_000_000L);
        now += 30_000_000;
        assertThat(c.holdNanos()).isEqualTo(10_000_000L);
        now += 10_000_000;
        assertThat(c.holdNanos()).isZero();
        // a timeout says the dependency is slow, not that it wants a pause
        c.onBatch(c.epoch(), c.size(), true, 300_000, c.size(), Drop.TIMED_OUT);
        assertThat(c.holdNanos()).isZero();
    }

    @Test
    void aTimeoutOnlyHalves() {
        BatchSizeController c = new BatchSizeController(1, 500, TARGET, 4, clock);
        runUntil(c, 20_000, 0, size -> size >= 100, 100);
        int before = c.size();
        now += 10_000_000_000L;
        // a timeout says nothing about the rate: nothing was answered in the last second
        c.onBatch(c.epoch(), before, true, 10_000_000, before, Drop.TIMED_OUT);
        assertThat(c.size()).isEqualTo(before / 2);
        assertThat(c.threshold()).isEqualTo(before / 2);
    }

    @Test
    void aBatchThatTimedOutWhileItsItemsWaitedInTheBatcherSaysNothing() {
        BatchSizeController c = new BatchSizeController(1, 500, TARGET, 4, clock);
        runUntil(c, 20_000, 0, size -> size >= 100, 100);
        int before = c.size();
        long epoch = c.epoch();
        // sent with 5 ms left of its items' call timeout: they had waited in the batcher's queue
        c.onBatch(epoch, before, true, 5_000, before, Drop.TIMED_OUT);
        assertThat(c.size()).isEqualTo(before);
        assertThat(c.epoch()).isEqualTo(epoch);
        assertThat(c.threshold()).isZero();
        // one that was at the dependency longer than the target is a drop
        c.onBatch(epoch, before, true, 10_000_000, before, Drop.TIMED_OUT);
        assertThat(c.size()).isEqualTo(before / 2);
    }
}
