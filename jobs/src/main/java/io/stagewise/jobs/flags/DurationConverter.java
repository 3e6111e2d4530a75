package io.stagewise.jobs.flags;

import org.apache.flink.annotation.PublicEvolving;
import java.time.Duration;
import org.apache.flink.util.TimeUtils;
import picocli.CommandLine;

/** Parses durations as Flink does: {@code 500ms}, {@code 10s}, {@code 2min}, {@code 7d}. */
@PublicEvolving
public final class DurationConverter implements CommandLine.ITypeConverter<Duration> {
    @Override
    public Duration convert(String value) {
        if (value != null && value.trim().matches("\\d+")) {
            // Flink would read a bare number as milliseconds: too easy to get wrong by a factor of 1000.
            throw new CommandLine.TypeConversionException("'" + value + "' needs a unit, like " + value.trim()
                    + "ms or " + value.trim() + "s");
        }
        Duration duration;
        try {
            duration = TimeUtils.parseDuration(value);
        } catch (IllegalArgumentException | NullPointerException e) {
            throw new CommandLine.TypeConversionException("'" + value
                    + "' is not a duration; write it like 500ms, 10s, 2min or 7d");
        }
        if (duration.isNegative() || duration.isZero()) {
            throw new CommandLine.TypeConversionException("'" + value + "' must be a positive duration");
        }
        return duration;
    }
}
