package io.stagewise.jobs;

/** A problem the user can fix (bad flag, unreachable broker, missing topic): printed without a stack trace. */
public class StagewiseException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public StagewiseException(String message) {
        super(message);
    }

    public StagewiseException(String message, Throwable cause) {
        super(message, cause);
    }
}
