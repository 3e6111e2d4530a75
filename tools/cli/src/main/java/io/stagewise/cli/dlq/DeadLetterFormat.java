package io.stagewise.cli.dlq;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.stagewise.operators.event.StagewiseHeaders;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** How dead letters read on a terminal and in {@code --json}: the table, ages, escaped text, pretty JSON. */
public final class DeadLetterFormat {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The table's message column is cut to this many characters ({@code dlq show} has all of it). */
    static final int MESSAGE_WIDTH = 60;

    private DeadLetterFormat() {}

    /** {@code 45s}, {@code 12m 5s}, {@code 3h 5m}, {@code 2d 4h}; {@code -} when unknown; negative ages (clock skew) as {@code 0s}. */
    public static String age(Optional<Long> failureAt, Instant now) {
        if (failureAt.isEmpty()) {
            return "-";
        }
        Duration age = Duration.ofMillis(Math.max(0, now.toEpochMilli() - failureAt.get()));
        long days = age.toDays();
        long hours = age.toHoursPart();
        long minutes = age.toMinutesPart();
        long seconds = age.toSecondsPart();
        if (days > 0) {
            return days + "d " + hours + "h";
        }
        if (hours > 0) {
            return hours + "h " + minutes + "m";
        }
        if (minutes > 0) {
            return minutes + "m " + seconds + "s";
        }
        return seconds + "s";
    }

    /** The {@code dlq list} table: a header row and one row per dead letter, columns padded. */
    public static List<String> table(List<DeadLetterRecord> letters, Instant now) {
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[] {"EVENT ID", "STAGE", "REASON", "RETRIES", "AGE", "ORIGIN", "DLQ", "MESSAGE"});
        for (DeadLetterRecord l : letters) {
            rows.add(new String[] {
                escape(l.eventId()).isEmpty() ? "-" : escape(l.eventId()),
                blank(escape(l.stage())),
                blank(escape(l.reasonText())),
                l.retryCount().map(String::valueOf).orElse("-"),
                age(l.failureAt(), now),
                blank(escape(l.origin())),
                l.coordinates(),
                cut(escape(l.header(StagewiseHeaders.FAILURE_MESSAGE).orElse("")), MESSAGE_WIDTH)
            });
        }
        int[] width = new int[rows.get(0).length];
        for (String[] row : rows) {
            for (int i = 0; i < row.length; i++) {
                width[i] = Math.max(width[i], row[i].length());
            }
        }
        List<String> lines = new ArrayList<>();
        for (String[] row : rows) {
            StringBuilder line = new StringBuilder();
            for (int i = 0; i < row.length; i++) {
                line.append(i == row.length - 1 ? row[i] : String.format("%-" + width[i] + "s  ", row[i]));
            }
            lines.add(line.toString().stripTrailing());
        }
        return lines;
    }

    /**
     * Text safe to print on one terminal line: control characters as {@code \n}, {@code \t},
     * {@code \u001b}..., backslashes doubled.
     */
    public static String escape(String text) {
        StringBuilder out = new StringBuilder(text.length());
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            switch (c) {
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) || c == '\u2028' || c == '\u2029') {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        return out.toString();
    }

    /**
     * Bytes as escaped text: valid UTF-8 is decoded and {@link #escape escaped}; anything else has
     * its undecodable bytes as {@code \xNN}. {@code null} is {@code (null)}.
     */
    public static String escape(byte[] bytes) {
        if (bytes == null) {
            return "(null)";
        }
        Optional<String> text = utf8(bytes);
        if (text.isPresent()) {
            return escape(text.get());
        }
        StringBuilder out = new StringBuilder();
        for (byte b : bytes) {
            int v = b & 0xff;
            if (v >= 0x20 && v < 0x7f && v != '\\') {
                out.append((char) v);
            } else if (v == '\\') {
                out.append("\\\\");
            } else {
                out.append(String.format("\\x%02x", v));
            }
        }
        return out.toString();
    }

    /** The value pretty-printed when it is UTF-8 JSON (an object or array), else empty. */
    public static Optional<String> prettyJson(byte[] bytes) {
        return bytes == null ? Optional.empty() : utf8(bytes).flatMap(DeadLetterFormat::prettyJson);
    }

    public static Optional<String> prettyJson(String text) {
        return parseJson(text).map(node -> node.toPrettyString());
    }

    /** The dead letter as JSON for {@code --json}: coordinates, headers, key, payload (JSON or escaped text). */
    public static ObjectNode toJson(DeadLetterRecord letter) {
        ObjectNode node = JSON.createObjectNode();
        node.put("dlq", letter.coordinates());
        node.put("eventId", letter.eventId());
        node.put("reason", letter.reasonText());
        node.put("stage", letter.stage());
        letter.retryCount().ifPresentOrElse(n -> node.put("retryCount", n), () -> node.putNull("retryCount"));
        letter.failureAt().ifPresentOrElse(n -> node.put("failureAt", Instant.ofEpochMilli(n).toString()),
                () -> node.putNull("failureAt"));
        node.put("origin", letter.origin());
        node.put("message", letter.header(StagewiseHeaders.FAILURE_MESSAGE).orElse(""));
        return node;
    }

    /** {@link #toJson} plus every header, the key, the payload and the parsed progress ({@code dlq show --json}). */
    public static ObjectNode toFullJson(DeadLetterRecord letter, boolean latest) {
        ObjectNode node = toJson(letter);
        node.put("latest", latest);
        ObjectNode headers = node.putObject("headers");
        for (Map.Entry<String, String> h : letter.headers().entrySet()) {
            headers.put(h.getKey(), h.getValue());
        }
        if (letter.key() == null) {
            node.putNull("key");
        } else {
            node.put("key", utf8(letter.key()).orElse(escape(letter.key())));
        }
        Optional<JsonNode> payload = letter.value() == null ? Optional.empty()
                : utf8(letter.value()).flatMap(DeadLetterFormat::parseJson);
        if (payload.isPresent()) {
            node.set("payload", payload.get());
        } else if (letter.value() == null) {
            node.putNull("payload");
        } else {
            node.put("payloadText", utf8(letter.value()).orElse(escape(letter.value())));
        }
        letter.header(StagewiseHeaders.PROGRESS).flatMap(DeadLetterFormat::parseJson)
                .ifPresent(p -> node.set("progress", p));
        return node;
    }

    private static Optional<JsonNode> parseJson(String text) {
        try {
            JsonNode node = JSON.readTree(text);
            return node != null && node.isContainerNode() ? Optional.of(node) : Optional.empty();
        } catch (JsonProcessingException e) {
            return Optional.empty();
        }
    }

    private static Optional<String> utf8(byte[] bytes) {
        try {
            return Optional.of(StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes)).toString());
        } catch (CharacterCodingException e) {
            return Optional.empty();
        }
    }

    private static String blank(String text) {
        return text.isEmpty() ? "-" : text;
    }

    private static String cut(String text, int width) {
        return text.length() <= width ? text : text.substring(0, width - 3) + "...";
    }
}
