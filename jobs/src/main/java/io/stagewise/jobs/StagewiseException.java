package io.stagewise.jobs;

import org.apache.flink.annotation.PublicEvolving;

/** A problem the user can fix (bad flag, unreachable broker, missing topic): printed without a stack trace. */
@PublicEvolving
public class StagewiseException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public StagewiseException(String message) {
        super(message);
    }

    public StagewiseException(String message, Throwable cause) {
        super(message, cause);
    }
}
