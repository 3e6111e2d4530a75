package io.stagewise.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
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

    /**
     * The command line of {@code stagewise <args>} as its own JVM (768 MiB heap, this test's class
     * path and module opens), for tests that kill or restart the launcher's process.
     */
    public static List<String> processCommand(List<String> args) {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
                .filter(arg -> arg.startsWith("--add-opens") || arg.startsWith("--add-exports"))
                .forEach(command::add);
        command.add("-Xmx768m");
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(Stagewise.class.getName());
        command.addAll(args);
        return command;
    }
}
