package io.stagewise.operators.stage;

import org.apache.flink.annotation.PublicEvolving;

/**
 * Thrown (or used to complete a future exceptionally) by stage code for a failure that may pass:
 * a timeout, a connection error, HTTP 5xx, 409 {@code idempotency_key_in_use}, 429. The engine
 * retries it with backoff, then hands it to the retry ladder, then dead-letters it as
 * {@code exhausted}.
 */
@PublicEvolving
public class RetryableStageException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public RetryableStageException(String message) {
        super(message);
    }

    public RetryableStageException(String message, Throwable cause) {
        super(message, cause);
    }
}
