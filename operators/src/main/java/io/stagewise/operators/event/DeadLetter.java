package io.stagewise.operators.event;

import org.apache.flink.annotation.PublicEvolving;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Set;

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
    /** The root cause's class name, or null when no exception was thrown (malformed input). */
    public String causeClass;
    /** The exception's stack trace, at most {@link StagewiseHeaders#MAX_STACKTRACE_BYTES} of UTF-8, or null. */
    public String stacktrace;

    /** Frames shown per throwable of a chain in {@link #stacktrace}. */
    static final int MAX_FRAMES_PER_THROWABLE = 20;

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

    /**
     * A stage failure bound for the DLQ: the event's original bytes and origin, the stage that
     * failed, why, and the progress a replay resumes from.
     *
     * @param retryCount downstream attempts of the failing stage so far, all tiers together
     * @param progress {@code stagewise.progress} JSON: completed stages and the pending one
     */
    public static DeadLetter of(Event event, String stage, FailureReason reason, Throwable failure, int retryCount,
                                String progress, long now) {
        DeadLetter letter = new DeadLetter();
        letter.eventId = event.id;
        letter.recordKey = event.recordKey;
        letter.value = event.value;
        letter.origin = event.origin;
        letter.stage = stage;
        letter.reason = reason;
        letter.failedWith(failure);
        letter.failureAt = now;
        letter.retryCount = retryCount;
        letter.progress = progress;
        letter.replayOf = event.replayOf;
        return letter;
    }

    /**
     * A record bound for retry topic {@code step}, due {@code delayMillis} after {@code now}:
     * reason {@code exhausted} (the in-operator attempts ran out), otherwise as {@link #of}.
     */
    public static DeadLetter retry(Event event, String stage, Throwable failure, int retryCount, String progress,
                                   long now, int step, long delayMillis) {
        if (step < 1) {
            throw new IllegalArgumentException("retry step must be >= 1, got " + step);
        }
        DeadLetter letter = of(event, stage, FailureReason.EXHAUSTED, failure, retryCount, progress, now);
        letter.retryStep = step;
        letter.dueAt = now + delayMillis;
        return letter;
    }

    /**
     * A dead letter for an event whose state is gone (it expired while the event was in flight):
     * reason {@code error}, the business key as record key, an empty value and an unknown origin
     * (topic {@code ""}, partition and offset -1), since the original record is no longer held. It
     * makes the loss visible in the DLQ; it cannot be replayed.
     */
    public static DeadLetter stateLost(String eventId, String businessKey, String stage, Throwable failure, long now) {
        Event gone = new Event();
        gone.id = eventId;
        gone.key = businessKey;
        gone.recordKey = businessKey == null ? null : businessKey.getBytes(StandardCharsets.UTF_8);
        gone.value = new byte[0];
        gone.origin = new Origin("", -1, -1, 0);
        return of(gone, stage, FailureReason.ERROR, failure, 0, "{}", now);
    }

    /**
     * This retry record as a dead letter: the event leaves the ladder with reason
     * {@code exhausted} (its stage's effect may exist, so a replay keeps the key), carrying the
     * record's progress, retry count and origin, and {@code failure} as the reason it left.
     */
    public DeadLetter exhausted(Throwable failure, long now) {
        DeadLetter letter = new DeadLetter();
        letter.eventId = eventId;
        letter.recordKey = recordKey;
        letter.value = value;
        letter.origin = origin;
        letter.stage = stage;
        letter.reason = FailureReason.EXHAUSTED;
        letter.failedWith(failure);
        letter.failureAt = now;
        letter.retryCount = retryCount;
        letter.progress = progress;
        letter.replayOf = replayOf;
        return letter;
    }

    /**
     * Records {@code failure} on this letter: its class and message (1 KiB at most), its root
     * cause's class and its stack trace (8 KiB at most), so DLQ tools can group by exception
     * (docs/topics-and-headers.md).
     */
    public DeadLetter failedWith(Throwable failure) {
        failureClass = failure.getClass().getName();
        failureMessage = truncate(String.valueOf(failure.getMessage()));
        Throwable root = failure;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        causeClass = root.getClass().getName();
        stacktrace = stackTrace(failure, StagewiseHeaders.MAX_STACKTRACE_BYTES);
        return this;
    }

    /**
     * The trace as the JVM prints it ({@code Caused by:} chains, frames shared with the enclosing
     * trace folded into {@code ... n more}, cycles cut), built frame by frame and stopped at
     * {@code maxBytes}, so a deep recursion never formats megabytes. At most
     * {@link #MAX_FRAMES_PER_THROWABLE} frames of each throwable, so the root cause, the part
     * tools group by, still fits in the 8 KiB after a deep framework stack.
     */
    static String stackTrace(Throwable failure, int maxBytes) {
        StringBuilder text = new StringBuilder();
        Set<Throwable> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        StackTraceElement[] enclosing = new StackTraceElement[0];
        Throwable current = failure;
        String prefix = "";
        while (current != null && seen.add(current) && text.length() <= maxBytes) {
            StackTraceElement[] frames = current.getStackTrace();
            int shared = 0;
            while (shared < frames.length && shared < enclosing.length
                    && frames[frames.length - 1 - shared].equals(enclosing[enclosing.length - 1 - shared])) {
                shared++;
            }
            text.append(prefix).append(current).append('\n');
            int shown = Math.min(frames.length - shared, MAX_FRAMES_PER_THROWABLE);
            for (int i = 0; i < shown && text.length() <= maxBytes; i++) {
                text.append("\tat ").append(frames[i]).append('\n');
            }
            if (frames.length - shown > 0) {
                text.append("\t... ").append(frames.length - shown).append(" more\n");
            }
            enclosing = frames;
            current = current.getCause();
            prefix = "Caused by: ";
        }
        return truncate(text.toString(), maxBytes);
    }

    /** Cuts a message to at most {@link StagewiseHeaders#MAX_FAILURE_MESSAGE_BYTES} bytes of UTF-8. */
    public static String truncate(String message) {
        return truncate(message, StagewiseHeaders.MAX_FAILURE_MESSAGE_BYTES);
    }

    /** Cuts {@code message} to at most {@code maxBytes} bytes of UTF-8; null becomes empty. */
    public static String truncate(String message, int maxBytes) {
        if (message == null) {
            return "";
        }
        byte[] bytes = message.getBytes(StandardCharsets.UTF_8);
        if (bytes.length <= maxBytes) {
            return message;
        }
        int end = maxBytes;
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
