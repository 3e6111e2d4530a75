package io.stagewise.operators.stage;

/**
 * An event completed every stage, but its output record is larger than the output topic takes
 * ({@code max.message.bytes}, or the producer's {@code max.request.size}). The event is
 * dead-lettered as {@code error} with its full progress; the job keeps running. A replay after the
 * limit is raised emits the output without calling any stage again.
 */
public class OutputTooLargeException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public OutputTooLargeException(String message) {
        super(message);
    }
}
