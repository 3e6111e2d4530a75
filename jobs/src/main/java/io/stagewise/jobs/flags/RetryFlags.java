package io.stagewise.jobs.flags;

import java.time.Duration;
import org.apache.flink.annotation.PublicEvolving;
import picocli.CommandLine.Option;

/**
 * In-operator retry and the retry topic ladder (docs/failures.md), bound to
 * {@code stagewise.retry.*} and {@code stagewise.retry-topics.*}; defaults are the options'.
 */
@PublicEvolving
public final class RetryFlags {
    @Option(names = "--retry-attempts", description = "In-operator attempts per stage before a retryable failure leaves the operator (default: ${DEFAULT-VALUE}).")
    public Integer attempts;

    @Option(names = "--retry-initial-backoff", converter = DurationConverter.class,
            description = "First in-operator backoff; then x stagewise.retry.multiplier per attempt, with jitter (default: ${DEFAULT-VALUE}).")
    public Duration initialBackoff;

    @Option(names = "--retry-topics", description = "Retry topics T.retry.1..N after the in-operator attempts; 0 = straight to the DLQ (default: ${DEFAULT-VALUE}).")
    public Integer topics;

    @Option(names = "--retry-topic-delay", converter = DurationConverter.class,
            description = "Delay of T.retry.1; step n waits delay x multiplier^(n-1) (default: ${DEFAULT-VALUE}).")
    public Duration topicDelay;

    @Option(names = "--retry-topic-multiplier", description = "Delay multiplier between retry topics, >= 2 (default: ${DEFAULT-VALUE}).")
    public Double topicMultiplier;
}
