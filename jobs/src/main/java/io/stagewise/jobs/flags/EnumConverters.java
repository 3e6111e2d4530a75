package io.stagewise.jobs.flags;

import org.apache.flink.annotation.PublicEvolving;
import io.stagewise.jobs.StagewiseOptions.Concurrency;
import io.stagewise.jobs.StagewiseOptions.Batching;
import io.stagewise.jobs.StagewiseOptions.Ordering;
import io.stagewise.jobs.StagewiseOptions.WorkflowName;
import java.util.Arrays;
import java.util.stream.Collectors;
import picocli.CommandLine;

/** Flag values of the enumerated options, spelled as in the configuration ({@code per-key}, {@code dedup-only}). */
@PublicEvolving
public final class EnumConverters {
    private EnumConverters() {}

    static <E extends Enum<E>> E parse(String what, Class<E> type, String value) {
        for (E constant : type.getEnumConstants()) {
            if (constant.toString().equalsIgnoreCase(value.trim())) {
                return constant;
            }
        }
        throw new CommandLine.TypeConversionException(what + " must be " + Arrays.stream(type.getEnumConstants())
                .map(c -> "'" + c + "'").collect(Collectors.joining(" or ")) + ", got '" + value + "'");
    }

    /** {@code --ordering}. */
    public static final class OrderingConverter implements CommandLine.ITypeConverter<Ordering> {
        @Override
        public Ordering convert(String value) {
            return parse("ordering", Ordering.class, value);
        }
    }

    /** {@code --concurrency}. */
    public static final class ConcurrencyConverter implements CommandLine.ITypeConverter<Concurrency> {
        @Override
        public Concurrency convert(String value) {
            return parse("concurrency", Concurrency.class, value);
        }
    }

    /** {@code --batching}. */
    public static final class BatchingConverter implements CommandLine.ITypeConverter<Batching> {
        @Override
        public Batching convert(String value) {
            return parse("batching", Batching.class, value);
        }
    }

    /** {@code --workflow}. */
    public static final class WorkflowConverter implements CommandLine.ITypeConverter<WorkflowName> {
        @Override
        public WorkflowName convert(String value) {
            return parse("workflow", WorkflowName.class, value);
        }
    }
}
