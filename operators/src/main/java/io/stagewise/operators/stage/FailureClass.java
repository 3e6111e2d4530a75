package io.stagewise.operators.stage;

import org.apache.flink.annotation.PublicEvolving;
import java.io.IOException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;

/** How a stage failure is handled (docs/failures.md). */
@PublicEvolving
public enum FailureClass {
    /** Transient: retry with backoff, then the retry ladder, then the DLQ as {@code exhausted}. */
    RETRYABLE,
    /** A definitive rejection: DLQ now, reason {@code permanent}. */
    PERMANENT,
    /** An unexpected exception in stage code: DLQ now, reason {@code error}; the job keeps running. */
    ERROR;

    /**
     * Sorts a failure: {@link PermanentStageException} is permanent; {@link RetryableStageException},
     * timeouts and I/O errors (connection refused or reset, HTTP timeouts) are retryable; anything
     * else is a bug in stage code, or a failure that must not bump the key generation
     * ({@link IdempotencyKeyReusedException}).
     */
    public static FailureClass of(Throwable failure) {
        Throwable t = unwrap(failure);
        if (t instanceof PermanentStageException) {
            return PERMANENT;
        }
        if (t instanceof RetryableStageException || t instanceof TimeoutException || t instanceof IOException) {
            return RETRYABLE;
        }
        return ERROR;
    }

    /** Strips the wrappers futures put around a failure. */
    public static Throwable unwrap(Throwable failure) {
        Throwable t = failure;
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }
}
