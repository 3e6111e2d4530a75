package io.stagewise.cli;

import io.stagewise.jobs.RunCommand;
import io.stagewise.gateway.GatewayException;
import io.stagewise.jobs.StagewiseException;
import io.stagewise.testkit.SandboxException;
import io.stagewise.operators.stage.http.HttpClients;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code stagewise} launcher: one entry point, a subcommand per task (docs/cli.md). */
@Command(name = "stagewise",
        mixinStandardHelpOptions = true,
        version = "stagewise 0.1.0",
        description = "Exactly-once processing of business-critical events on Apache Flink.",
        subcommands = {
            DemoCommand.class,
            RunCommand.class,
            ProduceCommand.class,
            GatewayCommand.class,
            BenchCommand.class,
            DlqCommand.class,
            ReconcileCommand.class,
            StatusCommand.class,
            SavepointCommand.class,
            CommandLine.HelpCommand.class
        })
public final class Stagewise implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a subcommand is required");
    }

    public static void main(String[] args) {
        // before anything uses the common pool: its size is read once (the remote stages' HTTP client)
        HttpClients.raiseCommonPoolFloor();
        System.exit(commandLine(new Stagewise()).execute(args));
    }

    /**
     * A command line whose user errors (bad flags, unreachable broker, missing topic) print one
     * clear line and exit 2, while bugs keep their stack trace.
     */
    public static CommandLine commandLine(Object command) {
        CommandLine cli = new CommandLine(command);
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            Throwable cause = e;
            while (cause != null && !isUserError(cause)) {
                cause = cause.getCause();
            }
            if (cause != null) {
                commandLine.getErr().println("stagewise: " + cause.getMessage());
                return 2;
            }
            throw e;
        });
        return cli;
    }

    /** User errors of every module: the pipeline's, the gateway's and the sandbox's. */
    private static boolean isUserError(Throwable t) {
        return t instanceof StagewiseException || t instanceof GatewayException || t instanceof SandboxException;
    }
}
