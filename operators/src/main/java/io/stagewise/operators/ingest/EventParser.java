package io.stagewise.operators.ingest;

import org.apache.flink.annotation.PublicEvolving;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.stagewise.operators.event.Event;
import io.stagewise.operators.event.Origin;
import io.stagewise.operators.event.StagewiseHeaders;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * Turns one Kafka record into an {@link Event}, following the event format of docs/event-format.md.
 *
 * <p>Never throws: anything wrong with the record (not JSON, no {@code id} or {@code type}, an id
 * longer than 255 characters, a payload that is not an object, a value over the size limit, a
 * Stagewise header that does not parse) yields an event marked {@link Event#malformed} with the
 * reason, so the record goes to the DLQ instead of crash-looping the job.
 */
@PublicEvolving
public final class EventParser implements Serializable {
    private static final long serialVersionUID = 1L;

    /** Default size limit of a record value: 1 MiB. */
    public static final int DEFAULT_MAX_EVENT_BYTES = 1024 * 1024;

    public static final int MAX_ID_LENGTH = 255;

    private static final ObjectMapper JSON = new ObjectMapper();

    private final int maxEventBytes;

    public EventParser(int maxEventBytes) {
        if (maxEventBytes <= 0) {
            throw new IllegalArgumentException("maxEventBytes must be positive, got " + maxEventBytes);
        }
        this.maxEventBytes = maxEventBytes;
    }

    public int maxEventBytes() {
        return maxEventBytes;
    }

    /**
     * Parses a record.
     *
     * @param recordKey the Kafka key bytes, may be null
     * @param value the Kafka value bytes, may be null
     * @param here the record's own coordinates; used as the origin unless the headers carry one
     * @param headers the record's Stagewise headers (last value of each name), UTF-8 decoded
     */
    public Event parse(byte[] recordKey, byte[] value, Origin here, Map<String, String> headers) {
        Event event = new Event();
        event.id = "";
        event.payload = "{}";
        event.progress = "{}";
        event.recordKey = recordKey;
        event.value = value;
        event.origin = here;
        try {
            readHeaders(event, headers);
        } catch (IllegalArgumentException e) {
            event.malformed = e.getMessage();
            return event;
        }
        if (value == null || value.length == 0) {
            event.malformed = "empty record value";
            return event;
        }
        if (value.length > maxEventBytes) {
            event.malformed = "record value of " + value.length + " bytes exceeds the limit of "
                    + maxEventBytes + " bytes (stagewise.max-event-bytes)";
            event.id = sniffId(value);
            return event;
        }
        JsonNode root;
        try {
            root = JSON.readTree(value);
        } catch (JsonProcessingException e) {
            event.malformed = "not valid JSON: " + e.getOriginalMessage();
            return event;
        } catch (java.io.IOException | RuntimeException e) {
            event.malformed = "not valid JSON: " + e;
            return event;
        }
        if (root == null || !root.isObject()) {
            event.malformed = "not a JSON object";
            return event;
        }
        JsonNode id = root.get("id");
        if (id != null && id.isTextual()) {
            event.id = id.asText().length() <= MAX_ID_LENGTH ? id.asText() : "";
        }
        if (id == null || !id.isTextual() || id.asText().isEmpty()) {
            event.malformed = "missing or non-string field 'id'";
            return event;
        }
        if (id.asText().length() > MAX_ID_LENGTH) {
            event.malformed = "field 'id' is " + id.asText().length() + " characters, more than "
                    + MAX_ID_LENGTH;
            return event;
        }
        JsonNode type = root.get("type");
        if (type == null || !type.isTextual() || type.asText().isBlank()) {
            event.malformed = "missing or non-string field 'type'";
            return event;
        }
        event.type = type.asText();
        JsonNode payload = root.get("payload");
        if (payload != null && !payload.isNull()) {
            if (!payload.isObject()) {
                event.malformed = "field 'payload' is not a JSON object";
                return event;
            }
            event.payload = payload.toString();
        }
        JsonNode occurredAt = root.get("occurredAt");
        event.occurredAt = occurredAt != null && occurredAt.isTextual() ? occurredAt.asText() : null;
        JsonNode key = root.get("key");
        if (key != null && key.isTextual() && !key.asText().isEmpty()) {
            event.key = key.asText();
        } else if (recordKey != null && recordKey.length > 0) {
            event.key = new String(recordKey, StandardCharsets.UTF_8);
        } else {
            event.key = event.id;
        }
        return event;
    }

    private static void readHeaders(Event event, Map<String, String> headers) {
        event.replayOf = headers.get(StagewiseHeaders.REPLAY_OF);
        String progress = headers.get(StagewiseHeaders.PROGRESS);
        if (progress != null) {
            try {
                if (!JSON.readTree(progress).isObject()) {
                    throw new IllegalArgumentException("header " + StagewiseHeaders.PROGRESS
                            + " is not a JSON object");
                }
            } catch (JsonProcessingException e) {
                throw new IllegalArgumentException("header " + StagewiseHeaders.PROGRESS
                        + " is not valid JSON: " + e.getOriginalMessage());
            }
            event.progress = progress;
        }
        String retryCount = headers.get(StagewiseHeaders.RETRY_COUNT);
        if (retryCount != null) {
            event.retryCount = parseNonNegative(StagewiseHeaders.RETRY_COUNT, retryCount);
        }
        String dueAt = headers.get(StagewiseHeaders.RETRY_DUE_AT);
        if (dueAt != null) {
            event.dueAt = parseLong(StagewiseHeaders.RETRY_DUE_AT, dueAt);
        }
        String originTopic = headers.get(StagewiseHeaders.ORIGIN_TOPIC);
        if (originTopic != null) {
            event.origin = new Origin(
                    originTopic,
                    (int) parseNonNegative(StagewiseHeaders.ORIGIN_PARTITION,
                            headers.get(StagewiseHeaders.ORIGIN_PARTITION)),
                    parseLong(StagewiseHeaders.ORIGIN_OFFSET, headers.get(StagewiseHeaders.ORIGIN_OFFSET)),
                    parseLong(StagewiseHeaders.ORIGIN_TIMESTAMP,
                            headers.get(StagewiseHeaders.ORIGIN_TIMESTAMP)));
        }
    }

    private static int parseNonNegative(String name, String text) {
        long value = parseLong(name, text);
        if (value < 0 || value > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("header " + name + " out of range: " + text);
        }
        return (int) value;
    }

    private static long parseLong(String name, String text) {
        if (text == null) {
            throw new IllegalArgumentException("header " + name + " is missing");
        }
        try {
            return Long.parseLong(text.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("header " + name + " is not a number: " + text);
        }
    }

    /** Best effort: the id of an oversized event, read from its first kilobytes, for the DLQ header. */
    private static String sniffId(byte[] value) {
        String head = new String(value, 0, Math.min(value.length, 4096), StandardCharsets.UTF_8);
        java.util.regex.Matcher m =
                java.util.regex.Pattern.compile("\"id\"\\s*:\\s*\"([^\"\\\\]{1,255})\"").matcher(head);
        return m.find() ? m.group(1) : "";
    }
}
