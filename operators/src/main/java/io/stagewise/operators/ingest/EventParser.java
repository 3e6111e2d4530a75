package io.stagewise.operators.ingest;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import org.apache.flink.annotation.PublicEvolving;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.stagewise.operators.event.Event;
import io.stagewise.operators.event.Origin;
import io.stagewise.operators.event.StagewiseHeaders;
import java.io.IOException;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

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
    private static final JsonFactory JSON_FACTORY = JSON.getFactory();

    private static final Pattern SNIFF_ID = Pattern.compile("\"id\"\\s*:\\s*\"([^\"\\\\]{1,255})\"");

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
        Fields fields;
        try {
            fields = readFields(value);
        } catch (JsonProcessingException e) {
            event.malformed = "not valid JSON: " + e.getOriginalMessage();
            return event;
        } catch (IOException | RuntimeException e) {
            event.malformed = "not valid JSON: " + e;
            return event;
        }
        if (fields == null) {
            event.malformed = "not a JSON object";
            return event;
        }
        String id = fields.id;
        if (id != null) {
            event.id = id.length() <= MAX_ID_LENGTH ? id : "";
        }
        if (id == null || id.isEmpty()) {
            event.malformed = "missing or non-string field 'id'";
            return event;
        }
        if (id.length() > MAX_ID_LENGTH) {
            event.malformed = "field 'id' is " + id.length() + " characters, more than " + MAX_ID_LENGTH;
            return event;
        }
        if (fields.type == null || fields.type.isBlank()) {
            event.malformed = "missing or non-string field 'type'";
            return event;
        }
        event.type = fields.type;
        if (fields.payloadNotObject) {
            event.malformed = "field 'payload' is not a JSON object";
            return event;
        }
        if (fields.payloadLength > 0) {
            // The payload exactly as it arrived (docs/event-format.md): a slice of the record value,
            // neither decoded nor rebuilt; a stage that reads it decodes it (Event#payloadText).
            event.payload = null;
            event.payloadStart = fields.payloadStart;
            event.payloadLength = fields.payloadLength;
        }
        event.occurredAt = fields.occurredAt;
        if (fields.key != null && !fields.key.isEmpty()) {
            event.key = fields.key;
        } else if (recordKey != null && recordKey.length > 0) {
            event.key = new String(recordKey, StandardCharsets.UTF_8);
        } else {
            event.key = event.id;
        }
        return event;
    }

    /** The top-level fields the pipeline reads; a string field of another JSON type stays null. */
    private static final class Fields {
        String id;
        String type;
        String key;
        String occurredAt;
        int payloadStart;
        int payloadLength;
        boolean payloadNotObject;
    }

    /**
     * Reads the top-level fields of {@code value} in one streaming pass: every token is checked (the
     * record must be valid JSON up to the end of its root object, as a full parse would require), but
     * only the five fields the pipeline needs are materialised; the payload is located, not copied.
     * A repeated field counts with its last value. Returns null when the root is not an object.
     */
    private static Fields readFields(byte[] value) throws IOException {
        try (JsonParser parser = JSON_FACTORY.createParser(value)) {
            if (parser.nextToken() != JsonToken.START_OBJECT) {
                // A scalar or array root: still reject what is not JSON at all, as a full parse would.
                parser.skipChildren();
                return null;
            }
            Fields fields = new Fields();
            while (parser.nextToken() == JsonToken.FIELD_NAME) {
                String name = parser.currentName();
                JsonToken token = parser.nextToken();
                switch (name) {
                    case "id" -> fields.id = token == JsonToken.VALUE_STRING ? parser.getText() : null;
                    case "type" -> fields.type = token == JsonToken.VALUE_STRING ? parser.getText() : null;
                    case "key" -> fields.key = token == JsonToken.VALUE_STRING ? parser.getText() : null;
                    case "occurredAt" -> fields.occurredAt = token == JsonToken.VALUE_STRING ? parser.getText() : null;
                    case "payload" -> {
                        fields.payloadNotObject = token != JsonToken.START_OBJECT && token != JsonToken.VALUE_NULL;
                        fields.payloadLength = 0;
                        if (token == JsonToken.START_OBJECT) {
                            int start = (int) parser.currentTokenLocation().getByteOffset();
                            if (start < 0) {
                                // Jackson detected UTF-16 or UTF-32: no byte offsets, and not the event format.
                                throw new JsonParseException(parser, "the record value is not UTF-8");
                            }
                            parser.skipChildren();
                            fields.payloadStart = start;
                            fields.payloadLength = (int) parser.currentLocation().getByteOffset() - start;
                        } else {
                            parser.skipChildren();
                        }
                    }
                    default -> parser.skipChildren();
                }
            }
            if (!parser.hasToken(JsonToken.END_OBJECT)) {
                throw new JsonParseException(parser, "unexpected end of the root object");
            }
            return fields;
        }
    }

    private static void readHeaders(Event event, Map<String, String> headers) {
        event.replayOf = headers.get(StagewiseHeaders.REPLAY_OF);
        event.repairOf = headers.get(StagewiseHeaders.REPAIR_OF);
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
        Matcher m = SNIFF_ID.matcher(head);
        return m.find() ? m.group(1) : "";
    }
}
