package io.stagewise.jobs.flags;

import org.apache.flink.annotation.PublicEvolving;
import java.time.Duration;
import org.apache.flink.util.TimeUtils;
import picocli.CommandLine;

/** Parses a duration that may be zero ({@code 0ms}), such as an added latency. */
@PublicEvolving
public final class NonNegativeDurationConverter implements CommandLine.ITypeConverter<Duration> {
    @Override
    public Duration convert(String value) {
        if (value != null && value.trim().matches("\\d+")) {
            // Flink would read a bare number as milliseconds: too easy to get wrong by a factor of 1000.
            throw new CommandLine.TypeConversionException("'" + value + "' needs a unit, like " + value.trim()
                    + "ms or " + value.trim() + "s");
        }
        try {
            Duration duration = TimeUtils.parseDuration(value);
            if (duration.isNegative()) {
                throw new CommandLine.TypeConversionException("'" + value + "' must not be negative");
            }
            return duration;
        } catch (IllegalArgumentException | NullPointerException e) {
            throw new CommandLine.TypeConversionException("'" + value
                    + "' is not a duration; write it like 0ms, 20ms, 1s");
        }
    }
}
