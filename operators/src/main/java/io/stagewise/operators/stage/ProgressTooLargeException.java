package io.stagewise.operators.stage;

import io.stagewise.operators.event.StagewiseHeaders;

/**
 * A stage's output would grow the event's {@code stagewise.progress} header past
 * {@link StagewiseHeaders#MAX_PROGRESS_BYTES}: no retry or dead letter
 * record could carry it. The event is dead-lettered as {@code error} (the job keeps running), the
 * stage recorded as completed without its output, so a replay calls it again with the same
 * idempotency key to get the output back.
 */
public class ProgressTooLargeException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public ProgressTooLargeException(String message) {
        super(message);
    }
}
