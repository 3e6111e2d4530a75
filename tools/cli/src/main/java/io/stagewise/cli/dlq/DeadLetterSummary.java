package io.stagewise.cli.dlq;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The {@code dlq list --summary} view: dead letters counted by failure hour (UTC) x reason x
 * stage, the shape a person scans first ("what broke, where, since when"). The hour is the one
 * of {@code stagewise.failure.at}, or of the DLQ record's own timestamp when that header is missing.
 */
public final class DeadLetterSummary {
    private static final DateTimeFormatter HOUR = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:00'Z'").withZone(ZoneOffset.UTC);

    /** One cell of the summary. */
    public record Row(Instant hour, String reason, String stage, long count) {}

    private DeadLetterSummary() {}

    /** The non-empty cells, oldest hour first, then by reason and stage. */
    public static List<Row> of(List<DeadLetterRecord> letters) {
        Map<Key, Long> counts = new TreeMap<>(Comparator.comparing(Key::hour).thenComparing(Key::reason)
                .thenComparing(Key::stage));
        for (DeadLetterRecord letter : letters) {
            Instant hour = Instant.ofEpochMilli(letter.failureAt().orElse(letter.timestamp())).truncatedTo(ChronoUnit.HOURS);
            counts.merge(new Key(hour, dash(letter.reasonText()), dash(letter.stage())), 1L, Long::sum);
        }
        List<Row> rows = new ArrayList<>();
        counts.forEach((key, count) -> rows.add(new Row(key.hour(), key.reason(), key.stage(), count)));
        return rows;
    }

    /** A header row and one aligned row per cell; reasons and stages escaped for the terminal. */
    public static List<String> table(List<Row> rows) {
        List<String[]> cells = new ArrayList<>();
        cells.add(new String[] {"HOUR (UTC)", "REASON", "STAGE", "COUNT"});
        for (Row row : rows) {
            cells.add(new String[] {HOUR.format(row.hour()), DeadLetterFormat.escape(row.reason()),
                DeadLetterFormat.escape(row.stage()), Long.toString(row.count())});
        }
        int[] width = new int[4];
        for (String[] cell : cells) {
            for (int i = 0; i < cell.length; i++) {
                width[i] = Math.max(width[i], cell[i].length());
            }
        }
        List<String> lines = new ArrayList<>();
        for (String[] cell : cells) {
            lines.add(String.format("%-" + width[0] + "s  %-" + width[1] + "s  %-" + width[2] + "s  %" + width[3] + "s",
                    (Object[]) cell));
        }
        return lines;
    }

    /** The cells as JSON: {@code [{"hour": "2026-11-27T18:00:00Z", "reason": .., "stage": .., "count": n}]}. */
    public static ArrayNode toJson(List<Row> rows, ObjectMapper json) {
        ArrayNode array = json.createArrayNode();
        for (Row row : rows) {
            array.addObject().put("hour", row.hour().toString()).put("reason", row.reason()).put("stage", row.stage())
                    .put("count", row.count());
        }
        return array;
    }

    private static String dash(String text) {
        return text.isEmpty() ? "-" : text;
    }

    private record Key(Instant hour, String reason, String stage) {}
}
