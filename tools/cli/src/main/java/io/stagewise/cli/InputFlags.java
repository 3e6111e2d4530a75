package io.stagewise.cli;

import io.stagewise.testkit.PaymentGenerator;
import picocli.CommandLine.Option;

/**
 * {@code --seed} and {@code --accounts}: what makes a generated input (docs/cli.md) repeatable, for
 * {@code produce}, {@code demo} and every {@code bench} suite. The same seed and accounts give the
 * same event ids and business keys, so two runs of one suite read the same records.
 */
final class InputFlags {
    @Option(names = "--seed", defaultValue = "42",
            description = "Random seed of the generated input; also part of the event ids (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--accounts", defaultValue = "100",
            description = "Number of distinct accounts, the business keys (default: ${DEFAULT-VALUE}).")
    int accounts;

    /** The generator's settings for {@code events} records with these shares of duplicates and malformed ones. */
    PaymentGenerator.Settings settings(int events, double duplicateRate, double malformedRate) {
        return new PaymentGenerator.Settings(events, duplicateRate, malformedRate, seed, accounts);
    }
}
