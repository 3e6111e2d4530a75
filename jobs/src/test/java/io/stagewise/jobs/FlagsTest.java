package io.stagewise.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import io.stagewise.jobs.flags.FlagBindings;
import io.stagewise.jobs.flags.PipelineFlags;
import java.util.Set;
import java.util.TreeSet;
import org.apache.flink.configuration.ConfigOption;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

/** One parser, one spelling and one default per setting: the flags of {@code run} and {@code flink run}. */
class FlagsTest {
    private static Set<String> names(CommandLine cli) {
        Set<String> names = new TreeSet<>();
        for (OptionSpec option : cli.getCommandSpec().options()) {
            names.add(option.longestName());
        }
        return names;
    }

    @Test
    void flinkRunTakesTheFlagsOfStagewiseRun() {
        Set<String> run = names(new CommandLine(new RunCommand()));
        Set<String> flinkRun = names(new CommandLine(new PipelineJob.FlinkRunCommand(new PipelineFlags())));
        run.remove("--dashboard-port"); // local runs only
        run.remove("--prometheus-port"); // local runs only: a cluster configures its reporter in config.yaml
        assertThat(flinkRun).isEqualTo(run);
    }

    @Test
    void helpShowsTheDefaultsOfTheOptionsTheFlagsAreBoundTo() {
        String help = new CommandLine(new RunCommand()).getUsageMessage(CommandLine.Help.Ansi.OFF).replaceAll("\\s+", " ");
        assertThat(help).contains("--retry-topics=<topics> Retry topics T.retry.1..N after the in-operator attempts; "
                + "0 = straight to the DLQ (default: " + StagewiseOptions.RETRY_TOPICS.defaultValue() + ")");
        assertThat(help).contains("(default: " + StagewiseOptions.ORDERING.defaultValue() + ")");
        assertThat(help).contains("(default: 7 d)");
    }

    @Test
    void everyBoundStagewiseFlagHasItsOption() {
        for (OptionSpec option : new CommandLine(new RunCommand()).getCommandSpec().options()) {
            ConfigOption<?> bound = FlagBindings.option(option.longestName()).orElse(null);
            if (bound != null && bound.key().startsWith("stagewise.")) {
                assertThat(StagewiseOptions.byKey(bound.key())).as(option.longestName()).isPresent();
            }
        }
    }
}
