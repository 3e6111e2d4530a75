package io.stagewise.e2e;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The processes a test started, each logging to its own file; {@link #close()} ends every one of
 * them and their descendants (PostgreSQL's server processes), even when the test failed.
 */
final class ChildProcesses implements AutoCloseable {
    private final Path logDir;
    private final List<Process> processes = Collections.synchronizedList(new ArrayList<>());

    ChildProcesses(Path logDir) {
        this.logDir = logDir;
    }

    /** Java from this JVM's installation. */
    static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    Process start(String name, List<String> command, Map<String, String> environment) {
        ProcessBuilder builder = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log(name)));
        builder.environment().putAll(environment);
        try {
            Process process = builder.start();
            processes.add(process);
            return process;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + name + ": " + command, e);
        }
    }

    File log(String name) {
        return logDir.resolve(name + ".out").toFile();
    }

    /** SIGTERM to each process and its descendants, then SIGKILL to whatever is left after a grace period. */
    @Override
    public void close() {
        List<Process> all;
        synchronized (processes) {
            all = new ArrayList<>(processes);
        }
        Collections.reverse(all);
        List<ProcessHandle> handles = new ArrayList<>();
        for (Process process : all) {
            process.descendants().forEach(handles::add);
            handles.add(process.toHandle());
        }
        handles.forEach(ProcessHandle::destroy);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        for (ProcessHandle handle : handles) {
            long left = deadline - System.nanoTime();
            try {
                handle.onExit().get(Math.max(left, 0), TimeUnit.NANOSECONDS);
            } catch (Exception e) {
                handle.destroyForcibly();
            }
        }
        handles.stream().filter(ProcessHandle::isAlive).forEach(ProcessHandle::destroyForcibly);
    }
}
