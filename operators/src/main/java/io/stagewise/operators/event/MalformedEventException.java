package io.stagewise.operators.event;

/** Names the failure class of malformed input in DLQ headers; never thrown into the job. */
public final class MalformedEventException extends Exception {
    private static final long serialVersionUID = 1L;

    public MalformedEventException(String message) {
        super(message);
    }
}
