package io.stagewise.operators.retry;

import org.apache.flink.annotation.PublicEvolving;
import java.io.Serializable;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The staged retry topics {@code T.retry.1} .. {@code T.retry.N} (docs/topics-and-headers.md): step n
 * waits {@code initialDelay x multiplier^(n-1)} (defaults 5 s, 20 s, 80 s). A retryable failure
 * that used up the in-operator attempts goes to the next step; after the last, to the DLQ with
 * reason {@code exhausted}. {@code steps = 0} turns the ladder off.
 */
@PublicEvolving
public final class RetryLadder implements Serializable {
    private static final long serialVersionUID = 1L;
    private static final Pattern RETRY_TOPIC = Pattern.compile(".*\\.retry\\.(\\d+)$");

    public static final RetryLadder DEFAULT = new RetryLadder(3, Duration.ofSeconds(5), 4.0);
    public static final RetryLadder NONE = new RetryLadder(0, Duration.ofSeconds(5), 4.0);

    private final int steps;
    private final Duration initialDelay;
    private final double multiplier;

    public RetryLadder(int steps, Duration initialDelay, double multiplier) {
        if (steps < 0 || steps > 20) {
            throw new IllegalArgumentException("retry topic count must be in [0, 20], got " + steps);
        }
        if (initialDelay == null || initialDelay.isNegative() || initialDelay.isZero()) {
            throw new IllegalArgumentException("retry topic initial delay must be positive, got " + initialDelay);
        }
        if (!(multiplier >= 2) || Double.isInfinite(multiplier)) {
            throw new IllegalArgumentException("retry topic delay multiplier must be >= 2, got " + multiplier);
        }
        this.steps = steps;
        this.initialDelay = initialDelay;
        this.multiplier = multiplier;
    }

    public int steps() {
        return steps;
    }

    /** The wait of step {@code step} (1-based). */
    public Duration delay(int step) {
        if (step < 1 || step > steps) {
            throw new IllegalArgumentException("no retry step " + step + " (ladder has " + steps + ")");
        }
        return Duration.ofMillis(Math.round(initialDelay.toMillis() * Math.pow(multiplier, step - 1)));
    }

    /** The sum of every step's delay: how long an event can wait in the ladder at least. */
    public Duration totalDelay() {
        Duration total = Duration.ZERO;
        for (int step = 1; step <= steps; step++) {
            total = total.plus(delay(step));
        }
        return total;
    }

    /** {@code T.retry.<step>}. */
    public static String topic(String inputTopic, int step) {
        return inputTopic + ".retry." + step;
    }

    public List<String> topics(String inputTopic) {
        List<String> topics = new ArrayList<>();
        for (int step = 1; step <= steps; step++) {
            topics.add(topic(inputTopic, step));
        }
        return topics;
    }

    /** The step a record read from {@code topic} is at: n for {@code *.retry.n}, 0 otherwise. */
    public static int stepOf(String topic) {
        Matcher m = RETRY_TOPIC.matcher(topic);
        return m.matches() ? Integer.parseInt(m.group(1)) : 0;
    }

    @Override
    public String toString() {
        StringBuilder delays = new StringBuilder();
        for (int step = 1; step <= steps; step++) {
            delays.append(step > 1 ? ", " : "").append(delay(step).toMillis()).append(" ms");
        }
        return "RetryLadder{" + steps + " steps: " + delays + "}";
    }
}
