package io.stagewise.cli.dlq;

import io.stagewise.jobs.StagewiseException;
import java.time.DateTimeException;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import org.apache.flink.util.TimeUtils;

/**
 * Parses the bounds of {@code --since} / {@code --until}: an ISO-8601 instant
 * ({@code 2026-11-27T18:00:00Z}, {@code 2026-11-27T19:00:00+01:00}), a date ({@code 2026-11-27},
 * midnight UTC), or a duration back from now ({@code 90s}, {@code 15min}, {@code 2h}, {@code 7d},
 * {@code PT2H}), so {@code --since 2h} means "now minus two hours".
 */
public final class TimeBound {
    private TimeBound() {}

    /**
     * @param flag the flag's name, for the message
     * @throws StagewiseException naming the flag and the accepted forms when {@code text} is neither
     */
    public static Instant parse(String flag, String text, Instant now) {
        String value = text == null ? "" : text.trim();
        if (value.isEmpty()) {
            throw invalid(flag, text);
        }
        if (Character.isDigit(value.charAt(0)) && value.length() >= 10 && value.charAt(4) == '-') {
            return parseInstant(flag, value);
        }
        if (value.chars().allMatch(Character::isDigit)) {
            throw new StagewiseException(flag + " '" + text + "' needs a unit: write 30s, 15min, 2h or 7d"
                    + " (a duration back from now), or an ISO-8601 instant like 2026-11-27T18:00:00Z");
        }
        Duration back;
        try {
            back = value.startsWith("P") || value.startsWith("p")
                    ? Duration.parse(value)
                    : TimeUtils.parseDuration(value);
        } catch (DateTimeParseException | IllegalArgumentException | ArithmeticException e) {
            throw invalid(flag, text);
        }
        if (back.isNegative()) {
            throw new StagewiseException(flag + " '" + text + "' must not be negative: it counts back from now");
        }
        try {
            return now.minus(back);
        } catch (DateTimeException | ArithmeticException e) {
            throw new StagewiseException(flag + " '" + text + "' reaches too far back");
        }
    }

    private static Instant parseInstant(String flag, String value) {
        try {
            return Instant.parse(value);
        } catch (DateTimeParseException e) {
            // not in UTC with Z: try an offset, then a plain date
        }
        try {
            return OffsetDateTime.parse(value).toInstant();
        } catch (DateTimeParseException e) {
            // try a plain date
        }
        try {
            return LocalDate.parse(value).atStartOfDay(ZoneOffset.UTC).toInstant();
        } catch (DateTimeParseException e) {
            throw new StagewiseException(flag + " '" + value + "' is not a valid ISO-8601 instant: write it like "
                    + "2026-11-27T18:00:00Z (UTC), 2026-11-27T19:00:00+01:00 or 2026-11-27");
        }
    }

    private static StagewiseException invalid(String flag, String text) {
        return new StagewiseException(flag + " '" + text + "' is neither an ISO-8601 instant (2026-11-27T18:00:00Z)"
                + " nor a duration back from now (30s, 15min, 2h, 7d)");
    }
}
