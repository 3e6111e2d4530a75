package io.stagewise.operators.stage;

import org.apache.flink.annotation.PublicEvolving;

/**
 * Thrown (or used to complete a future exceptionally) by stage code for a failure that may pass:
 * a timeout, a connection error, HTTP 5xx, 409 {@code idempotency_key_in_use}, 429. The engine
 * retries it with backoff, then hands it to the retry ladder, then dead-letters it as
 * {@code exhausted}. With an HTTP status, 429 and 503 also lower the stage's adaptive in-flight
 * limit (a drop: the dependency says it is overloaded).
 */
@PublicEvolving
public class RetryableStageException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** {@link #httpStatus()} of a failure that carries none. */
    public static final int NO_STATUS = 0;

    private final int httpStatus;

    public RetryableStageException(String message) {
        this(message, NO_STATUS, null);
    }

    public RetryableStageException(String message, Throwable cause) {
        this(message, NO_STATUS, cause);
    }

    /** A retryable HTTP answer, e.g. 429 or 503. */
    public RetryableStageException(String message, int httpStatus) {
        this(message, httpStatus, null);
    }

    private RetryableStageException(String message, int httpStatus, Throwable cause) {
        super(message, cause);
        this.httpStatus = httpStatus;
    }

    /** The HTTP status of the answer that failed, or {@link #NO_STATUS}. */
    public int httpStatus() {
        return httpStatus;
    }
}
