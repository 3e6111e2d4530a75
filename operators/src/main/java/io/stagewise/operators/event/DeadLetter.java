package io.stagewise.operators.event;

import org.apache.flink.annotation.PublicEvolving;
import java.nio.charset.StandardCharsets;

/**
 * A record on its way to the DLQ topic {@code T.dlq}: the original key and value bytes, untouched,
 * and every piece of metadata of docs/topics-and-headers.md so it can be understood and replayed later.
 *
 * <p>Written by a transactional Kafka sink, so a dead letter and the state that produced it commit
 * together: none is lost, none is written twice. A Flink POJO: never Kryo.
 */
@PublicEvolving
public class DeadLetter {
    public String eventId;
    public byte[] recordKey;
    public byte[] value;
    public Origin origin;
    public String stage;
    public FailureReason reason;
    public String failureClass;
    public String failureMessage;
    public long failureAt;
    public int retryCount;
    /** JSON of the completed stages and their outputs. */
    public String progress;
    /** The DLQ coordinates this event was replayed from, or null. */
    public String replayOf;
    /** For a retry record: the ladder step it goes to (1..N); 0 for a dead letter. */
    public int retryStep;
    /** For a retry record: epoch ms before which it must not be retried; 0 for a dead letter. */
    public long dueAt;

    public DeadLetter() {}

    /** A record that could not be ingested: reason {@code malformed}, stage {@code ingest}. */
    public static DeadLetter malformed(Event event, long now) {
        DeadLetter letter = new DeadLetter();
        letter.eventId = event.id == null ? "" : event.id;
        letter.recordKey = event.recordKey;
        letter.value = event.value;
        letter.origin = event.origin;
        letter.stage = StagewiseHeaders.INGEST_STAGE;
        letter.reason = FailureReason.MALFORMED;
        letter.failureClass = MalformedEventException.class.getName();
        letter.failureMessage = truncate(event.malformed);
        letter.failureAt = now;
        letter.retryCount = 0;
        letter.progress = "{}";
        letter.replayOf = event.replayOf;
        return letter;
    }

    /** Cuts a message to at most {@link StagewiseHeaders#MAX_FAILURE_MESSAGE_BYTES} bytes of UTF-8. */
    public static String truncate(String message) {
        if (message == null) {
            return "";
        }
        byte[] bytes = message.getBytes(StandardCharsets.UTF_8);
        if (bytes.length <= StagewiseHeaders.MAX_FAILURE_MESSAGE_BYTES) {
            return message;
        }
        int end = StagewiseHeaders.MAX_FAILURE_MESSAGE_BYTES;
        // Do not cut a multi-byte character in half: back up to a UTF-8 lead byte.
        while (end > 0 && (bytes[end] & 0xC0) == 0x80) {
            end--;
        }
        return new String(bytes, 0, end, StandardCharsets.UTF_8);
    }

    @Override
    public String toString() {
        return "DeadLetter{eventId=" + eventId + ", stage=" + stage + ", reason=" + reason
                + ", origin=" + origin + "}";
    }
}
