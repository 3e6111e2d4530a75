package io.stagewise.operators.retry;

/**
 * The failure a dead letter carries when an event's retry record never came back from its retry
 * topic (an aborted Kafka transaction, a record over {@code --max-event-bytes}, a topic removed from
 * the ladder): the ladder's watchdog re-sent it a bounded number of times, then gave up. Reason
 * {@code exhausted}: the effect of the failing stage may exist, so a replay keeps the key.
 */
public class RetryRecordLostException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public RetryRecordLostException(String message) {
        super(message);
    }
}
