package io.stagewise.operators.stage;

import org.apache.flink.annotation.PublicEvolving;

/**
 * Thrown (or used to complete a future exceptionally) by stage code for a definitive rejection: a
 * business rule, HTTP 4xx other than 409/429. The event goes to the DLQ at once with reason
 * {@code permanent}; a later replay calls the stage with a new idempotency key generation.
 */
@PublicEvolving
public class PermanentStageException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public PermanentStageException(String message) {
        super(message);
    }

    public PermanentStageException(String message, Throwable cause) {
        super(message, cause);
    }
}
