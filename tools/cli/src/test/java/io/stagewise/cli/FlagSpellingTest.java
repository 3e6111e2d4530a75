package io.stagewise.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

/** One spelling per flag across the launcher's commands (the README's run flags are the contract). */
class FlagSpellingTest {
    private static void collect(CommandLine cli, Set<String> names) {
        for (OptionSpec option : cli.getCommandSpec().options()) {
            names.addAll(Set.of(option.names()));
        }
        cli.getSubcommands().values().forEach(sub -> collect(sub, names));
    }

    @Test
    void theRetryLadderFlagsAreSpelledAsRunSpellsThem() {
        Set<String> names = new HashSet<>();
        collect(Stagewise.commandLine(new Stagewise()), names);
        assertThat(names).contains("--retry-topic-delay", "--retry-topic-multiplier", "--kafka-property",
                "--kafka-properties", "--fresh");
        assertThat(names).doesNotContain("--retry-topics-initial-delay", "--retry-topics-multiplier");
    }
}
