package io.stagewise.jobs.flags;

import org.apache.flink.annotation.PublicEvolving;
import io.stagewise.jobs.FlinkSettings;
import picocli.CommandLine;

/** A checkpoint location: a Flink filesystem URI as given, or a local directory made an absolute {@code file:} URI. */
@PublicEvolving
public final class CheckpointUriConverter implements CommandLine.ITypeConverter<String> {
    @Override
    public String convert(String value) {
        if (value == null || value.isBlank()) {
            throw new CommandLine.TypeConversionException("a checkpoint directory or URI is required");
        }
        return FlinkSettings.checkpointUri(value.trim());
    }
}
