package io.stagewise.operators.stage;

import org.apache.flink.annotation.PublicEvolving;
import java.io.Serializable;
import java.time.Duration;
import java.util.Random;

/**
 * In-operator retry of retryable stage failures: exponential backoff with jitter. Validated on
 * construction (Flink's own backoff builder does not validate). Defaults (docs/failures.md):
 * 3 attempts, 100 ms initial backoff, multiplier 2, at most 10 s, 20% jitter.
 */
@PublicEvolving
public final class RetrySettings implements Serializable {
    private static final long serialVersionUID = 1L;

    public static final RetrySettings DEFAULTS = builder().build();

    private final int maxAttempts;
    private final Duration initialBackoff;
    private final double multiplier;
    private final Duration maxBackoff;
    private final double jitter;

    private RetrySettings(Builder b) {
        if (b.maxAttempts < 1) {
            throw new IllegalArgumentException("maxAttempts must be >= 1, got " + b.maxAttempts);
        }
        if (b.initialBackoff == null || b.initialBackoff.isNegative()) {
            throw new IllegalArgumentException("initialBackoff must be >= 0, got " + b.initialBackoff);
        }
        if (!(b.multiplier >= 1.0) || Double.isInfinite(b.multiplier)) {
            throw new IllegalArgumentException("multiplier must be >= 1, got " + b.multiplier);
        }
        if (b.maxBackoff == null || b.maxBackoff.compareTo(b.initialBackoff) < 0) {
            throw new IllegalArgumentException("maxBackoff (" + b.maxBackoff + ") must be >= initialBackoff ("
                    + b.initialBackoff + ")");
        }
        if (!(b.jitter >= 0 && b.jitter <= 1)) {
            throw new IllegalArgumentException("jitter must be in [0, 1], got " + b.jitter);
        }
        this.maxAttempts = b.maxAttempts;
        this.initialBackoff = b.initialBackoff;
        this.multiplier = b.multiplier;
        this.maxBackoff = b.maxBackoff;
        this.jitter = b.jitter;
    }

    public static Builder builder() {
        return new Builder();
    }

    public int maxAttempts() {
        return maxAttempts;
    }

    public Duration initialBackoff() {
        return initialBackoff;
    }

    public double multiplier() {
        return multiplier;
    }

    public Duration maxBackoff() {
        return maxBackoff;
    }

    public double jitter() {
        return jitter;
    }

    /**
     * The wait before the next attempt after {@code failedAttempts} failed ones (>= 1):
     * initial x multiplier^(failedAttempts - 1), capped at maxBackoff, then spread by +/- jitter.
     */
    public long backoffMillis(int failedAttempts, Random random) {
        double base = initialBackoff.toMillis() * Math.pow(multiplier, Math.max(0, failedAttempts - 1));
        double capped = Math.min(base, maxBackoff.toMillis());
        double spread = capped * jitter * (2 * random.nextDouble() - 1);
        return Math.max(0, Math.round(capped + spread));
    }

    @Override
    public String toString() {
        return "RetrySettings{maxAttempts=" + maxAttempts + ", initialBackoff=" + initialBackoff + ", multiplier="
                + multiplier + ", maxBackoff=" + maxBackoff + ", jitter=" + jitter + "}";
    }

    /** Builder with the defaults of docs/failures.md. */
    public static final class Builder {
        private int maxAttempts = 3;
        private Duration initialBackoff = Duration.ofMillis(100);
        private double multiplier = 2.0;
        private Duration maxBackoff = Duration.ofSeconds(10);
        private double jitter = 0.2;

        public Builder maxAttempts(int maxAttempts) {
            this.maxAttempts = maxAttempts;
            return this;
        }

        public Builder initialBackoff(Duration initialBackoff) {
            this.initialBackoff = initialBackoff;
            return this;
        }

        public Builder multiplier(double multiplier) {
            this.multiplier = multiplier;
            return this;
        }

        public Builder maxBackoff(Duration maxBackoff) {
            this.maxBackoff = maxBackoff;
            return this;
        }

        public Builder jitter(double jitter) {
            this.jitter = jitter;
            return this;
        }

        public RetrySettings build() {
            return new RetrySettings(this);
        }
    }
}
