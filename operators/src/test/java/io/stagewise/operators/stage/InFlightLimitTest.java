package io.stagewise.operators.stage;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.http.HttpTimeoutException;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;

/** The in-flight limit's wiring: which outcomes move it, which way, and its bounds. Pure logic, fed by hand. */
class InFlightLimitTest {
    private static final long MS = TimeUnit.MILLISECONDS.toNanos(1);

    /** Feeds {@code calls} successes of {@code rttMs}, each with the stage busy up to its limit. */
    private static void succeed(InFlightLimit limit, int calls, long rttMs) {
        for (int i = 0; i < calls; i++) {
            limit.onResult(rttMs * MS, limit.current(), null);
        }
    }

    private static void fail(InFlightLimit limit, int calls, Throwable failure) {
        for (int i = 0; i < calls; i++) {
            limit.onResult(5 * MS, limit.current(), failure);
        }
    }

    @Test
    void aFixedLimitIsTheMaximumWhateverHappens() {
        InFlightLimit limit = InFlightLimit.fixed(7);
        succeed(limit, 50, 5);
        succeed(limit, 50, 500);
        fail(limit, 50, new TimeoutException());
        assertThat(limit.current()).isEqualTo(7);
    }

    @Test
    void shrinksWhenLatencyRisesAndGrowsBackWhileItIsFlat() {
        // 140 samples in all: below Vegas' earliest re-probe of the no-load RTT (0.5 x 100 x limit >= 150
        // at a limit of 3), so nothing here depends on its random probe jitter.
        InFlightLimit limit = InFlightLimit.adaptive(1, 100);
        succeed(limit, 50, 5);
        assertThat(limit.current()).as("flat RTT at the ceiling: stays there").isEqualTo(100);

        int before = limit.current();
        for (int i = 0; i < 60; i++) {
            succeed(limit, 1, 100);
            assertThat(limit.current()).as("never grows while the RTT is 20x").isLessThanOrEqualTo(before);
            before = limit.current();
        }
        assertThat(limit.current()).as("RTT x20 for 60 calls").isLessThanOrEqualTo(5);

        succeed(limit, 30, 5);
        assertThat(limit.current()).as("RTT back to 5 ms for 30 calls").isEqualTo(100);
    }

    @Test
    void aDependencyThatStaysSlowGetsItsLimitBackAfterTheNoLoadRttIsProbedAgain() {
        InFlightLimit limit = InFlightLimit.adaptive(1, 100);
        succeed(limit, 50, 5);
        succeed(limit, 60, 100);
        assertThat(limit.current()).isLessThanOrEqualTo(5);
        succeed(limit, 600, 100); // the probe comes within 100 x limit samples
        assertThat(limit.current()).as("100 ms is the new no-load RTT").isEqualTo(100);
    }

    @Test
    void growsFromALowLimitWhileRttIsFlatAndTheStageIsBusy() {
        InFlightLimit limit = InFlightLimit.adaptive(2, 80);
        succeed(limit, 5, 10);
        succeed(limit, 60, 200);
        assertThat(limit.current()).isLessThan(10);
        int before = limit.current();
        for (int i = 0; i < 40; i++) {
            succeed(limit, 1, 10);
            assertThat(limit.current()).as("never shrinks while RTT is flat").isGreaterThanOrEqualTo(before);
            before = limit.current();
        }
        assertThat(limit.current()).isEqualTo(80);
    }

    @Test
    void doesNotGrowWhileTheStageUsesLessThanHalfItsLimit() {
        InFlightLimit limit = InFlightLimit.adaptive(1, 100);
        succeed(limit, 5, 10);
        succeed(limit, 60, 200);
        int low = limit.current();
        for (int i = 0; i < 50; i++) {
            limit.onResult(10 * MS, 0, null); // app-limited: no evidence the dependency takes more
        }
        assertThat(limit.current()).isEqualTo(low);
    }

    @Test
    void timeoutsAnd429And503AreDropsThatShrinkIt() {
        for (Throwable drop : List.of(new TimeoutException(), new CompletionException(new HttpTimeoutException("t")),
                new RetryableStageException("HTTP 429", 429), new RetryableStageException("HTTP 503", 503))) {
            InFlightLimit limit = InFlightLimit.adaptive(4, 100);
            succeed(limit, 10, 5);
            fail(limit, 1, drop);
            assertThat(limit.current()).as(drop.toString()).isEqualTo(90);
            fail(limit, 100, drop);
            assertThat(limit.current()).as("never below --min-in-flight").isEqualTo(4);
            succeed(limit, 200, 5);
            assertThat(limit.current()).as("successes at a flat RTT bring it back").isEqualTo(100);
        }
    }

    @Test
    void permanentRejectionsErrorsAndOtherRetryablesAreNeitherSamplesNorDrops() {
        for (Throwable neutral : List.of(new PermanentStageException("HTTP 402"), new IllegalStateException("bug"),
                new RetryableStageException("HTTP 500", 500), new RetryableStageException("HTTP 409", 409),
                new IOException("connection reset"), new IdempotencyKeyReusedException("HTTP 422"))) {
            InFlightLimit limit = InFlightLimit.adaptive(1, 50);
            succeed(limit, 10, 5);
            fail(limit, 100, neutral);
            assertThat(limit.current()).as(neutral.toString()).isEqualTo(50);
            assertThat(InFlightLimit.isDrop(neutral)).isFalse();
        }
    }

    @Test
    void aFastFailureIsNoRttSample() {
        InFlightLimit limit = InFlightLimit.adaptive(1, 100);
        succeed(limit, 10, 20);
        // Fast 500s would read as a lower no-load RTT if they were samples, and then 20 ms as queueing.
        for (int i = 0; i < 100; i++) {
            limit.onResult(MS / 10, limit.current(), new RetryableStageException("HTTP 500", 500));
        }
        succeed(limit, 50, 20);
        assertThat(limit.current()).isEqualTo(100);
    }

    @Test
    void staysWithinItsBoundsUnderAnyMix() {
        InFlightLimit limit = InFlightLimit.adaptive(3, 40);
        long[] rtts = {1, 500, 2, 2, 900, 3, 50, 1, 1, 1};
        for (int i = 0; i < 2_000; i++) {
            Throwable failure = i % 7 == 0 ? new RetryableStageException("HTTP 503", 503) : null;
            limit.onResult(rtts[i % rtts.length] * MS, i % 50, failure);
            assertThat(limit.current()).isBetween(3, 40);
        }
    }
}
