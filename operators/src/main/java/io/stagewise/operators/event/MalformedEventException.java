package io.stagewise.operators.event;

import org.apache.flink.annotation.PublicEvolving;

/** Names the failure class of malformed input in DLQ headers; never thrown into the job. */
@PublicEvolving
public final class MalformedEventException extends Exception {
    private static final long serialVersionUID = 1L;

    public MalformedEventException(String message) {
        super(message);
    }
}
