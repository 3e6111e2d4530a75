package io.stagewise.operators.stage;

import org.apache.flink.annotation.PublicEvolving;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.stagewise.operators.event.Event;
import java.time.Instant;

/** What a stage call sees: the event, its idempotency key, the attempt, the deadline, earlier outputs. */
@PublicEvolving
public final class StageContext {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Event event;
    private final String stage;
    private final String idempotencyKey;
    private final int attempt;
    private final Instant deadline;
    private final Progress progress;
    private JsonNode payload;

    StageContext(Event event, String stage, String idempotencyKey, int attempt, Instant deadline, Progress progress) {
        this.event = event;
        this.stage = stage;
        this.idempotencyKey = idempotencyKey;
        this.attempt = attempt;
        this.deadline = deadline;
        this.progress = progress;
    }

    /**
     * The idempotency key of this stage for this event: {@code <event id>:<stage>}, or
     * {@code <event id>:<stage>:<n>} for generation n >= 2 (after a definitive rejection was
     * replayed). Every attempt of the same generation carries the same key, so a repeat after an
     * ambiguous ack or a rollback is harmless downstream.
     */
    public static String idempotencyKey(String eventId, String stage, int generation) {
        return generation <= 1 ? eventId + ":" + stage : eventId + ":" + stage + ":" + generation;
    }

    public String eventId() {
        return event.id;
    }

    public Event event() {
        return event;
    }

    public String stage() {
        return stage;
    }

    public String idempotencyKey() {
        return idempotencyKey;
    }

    /** 1 for the first downstream attempt of this stage, counting every tier and restart. */
    public int attempt() {
        return attempt;
    }

    /** When the engine stops waiting for this call. */
    public Instant deadline() {
        return deadline;
    }

    /** The event's {@code payload} object. */
    public JsonNode payload() {
        if (payload == null) {
            try {
                payload = JSON.readTree(event.payloadText());
            } catch (java.io.IOException e) {
                throw new IllegalStateException("payload of " + event.id + " is not JSON", e);
            }
        }
        return payload;
    }

    /** The output of an earlier, completed stage (null if it has none). */
    public JsonNode output(String earlierStage) {
        return progress.output(earlierStage);
    }
}
