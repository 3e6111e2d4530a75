package io.stagewise.operators.event;

import java.nio.charset.StandardCharsets;
import org.apache.flink.annotation.PublicEvolving;

/**
 * One input record after ingestion: the parsed event of docs/event-format.md, its original bytes,
 * its origin coordinates and the Stagewise headers it arrived with.
 *
 * <p>A record that could not be parsed is still an {@code Event}, with {@link #malformed} saying why;
 * the malformed split turns it into a dead letter. So nothing read from Kafka is ever dropped or
 * crashes the job. A Flink POJO where keyed state declares it so (the stage engine's parked events);
 * on the streams from the source to the stage engine, and inside the in-flight workflows
 * ({@code WorkflowRunSerializer}), it travels with the explicit {@link EventSerializer}
 * ({@link EventTypeInfo}). Never Kryo. The payload is either text ({@link #payload}) or, as the
 * parser leaves it, a slice of {@link #value}: read it with {@link #payloadText()}.
 */
@PublicEvolving
public class Event {
    /** The event id; for a malformed record, whatever id could be read, or {@code ""}. */
    public String id;
    public String type;
    /** The business key (an account id in the payments pipeline). */
    public String key;
    public String occurredAt;
    /**
     * The {@code payload} object as JSON text ({@code "{}"} when absent), or null while the payload is
     * only known as a slice of {@link #value} ({@link #payloadStart}, {@link #payloadLength}): read it
     * with {@link #payloadText()}.
     */
    public String payload;
    /**
     * Where the payload object sits in {@link #value} (UTF-8 bytes, exactly as they arrived), when
     * {@link #payloadLength} is positive. The parser locates it and nothing decodes it unless a stage
     * reads the payload: the shuffle and the output writer pass the bytes on. POJO fields added after
     * the first release, like {@link #repairOf}: Flink's POJO schema evolution restores older state
     * (parked events) with them 0, i.e. with the payload in {@link #payload}; every serializer of an
     * event (this POJO's, {@link EventSerializer}) carries them, so no operator in between loses it.
     */
    public int payloadStart;
    /** Length in bytes of the payload slice of {@link #value}; 0 when {@link #payload} holds the payload. */
    public int payloadLength;
    /** The Kafka record key, untouched (may be null). */
    public byte[] recordKey;
    /** The Kafka record value, untouched: what a dead letter carries. */
    public byte[] value;
    public Origin origin;
    /** {@code stagewise.replay-of} of a replayed record, else null. */
    public String replayOf;
    /**
     * {@code stagewise.repair-of} of a record re-injected by reconciliation ({@code <run id>:<class>}),
     * else null. A POJO field added after the first release: Flink's POJO schema evolution restores
     * older state with it null.
     */
    public String repairOf;
    /** {@code stagewise.progress} the record arrived with (JSON), else {@code "{}"}. */
    public String progress;
    /** {@code stagewise.retry.count} the record arrived with, else 0. */
    public int retryCount;
    /** The retry ladder step this record was read from (n for {@code T.retry.n}), 0 for the input topic. */
    public int retryStep;
    /** {@code stagewise.retry.due-at} of a retry record (epoch ms), else 0. */
    public long dueAt;
    /** Null for a valid event; otherwise why it is malformed. */
    public String malformed;

    public Event() {}

    /** True when the payload is a slice of {@link #value} ({@link #payloadStart}, {@link #payloadLength}). */
    public boolean hasPayloadSlice() {
        return payloadLength > 0 && value != null;
    }

    /**
     * The payload as JSON text: {@link #payload}, decoded from its slice of {@link #value} on the first
     * call (and kept), {@code "{}"} when there is none.
     */
    public String payloadText() {
        if (payload == null) {
            payload = hasPayloadSlice() ? new String(value, payloadStart, payloadLength, StandardCharsets.UTF_8) : "{}";
        }
        return payload;
    }

    public boolean isMalformed() {
        return malformed != null;
    }

    /**
     * True for a record re-injected on purpose: a DLQ replay ({@code stagewise.replay-of}) or a
     * reconciliation repair ({@code stagewise.repair-of}). The dedup rule admits such a record over
     * a {@code DEAD_LETTERED} status (docs/state-and-dedup.md).
     */
    public boolean isReplay() {
        return replayOf != null || repairOf != null;
    }

    @Override
    public String toString() {
        return "Event{id=" + id + ", type=" + type + ", key=" + key + ", origin=" + origin
                + (malformed != null ? ", malformed=" + malformed : "") + "}";
    }
}
