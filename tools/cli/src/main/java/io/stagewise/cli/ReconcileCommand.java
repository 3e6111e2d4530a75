package io.stagewise.cli;

import io.stagewise.jobs.reconcile.ReconcileFlags;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * {@code stagewise reconcile}: the reconcile job (docs/reconcile.md) on a Flink mini cluster in this
 * process; on a cluster, {@code flink run -c io.stagewise.jobs.reconcile.ReconcileJob} takes the same
 * flags. Exit 0 clean, 1 discrepancies found, 2 user error.
 */
@Command(name = "reconcile", mixinStandardHelpOptions = true,
        description = "Compare the input topic with the output topic, DLQ, ledger and gateway charges; report, and repair with --repair.")
final class ReconcileCommand implements Callable<Integer> {
    @Mixin
    ReconcileFlags flags;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        return flags.execute(spec.commandLine().getOut());
    }
}
