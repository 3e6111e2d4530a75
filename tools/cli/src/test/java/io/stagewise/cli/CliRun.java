package io.stagewise.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import picocli.CommandLine;

/** One launcher invocation in-process, as a user would run it: exit code and what it printed. */
public record CliRun(int exitCode, String out, String err) {
    /** {@code stagewise <args>}. */
    public static CliRun stagewise(String... args) {
        return of(new Stagewise(), args);
    }

    /** A single command, with the launcher's handling of user errors. */
    public static CliRun of(Object command, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli = Stagewise.commandLine(command);
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        int exitCode = cli.execute(args);
        return new CliRun(exitCode, out.toString(), err.toString());
    }
}
