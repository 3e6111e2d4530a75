package io.stagewise.operators.stage.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The JDK HTTP client hands every response of {@code sendAsync} to CompletableFuture's default
 * executor, which on a JVM with 2 or fewer CPUs (common pool parallelism 1) starts a new thread per
 * task: a thread per call. Measured in a child JVM told it has 2 CPUs, as a small TaskManager or
 * this test machine has.
 */
class HttpClientsTest {
    private static final int CALLS = 200;

    @Test
    void withTheLaunchersFloorTheClientStartsNoThreadPerResponseOnTwoCpus() throws Exception {
        long unraised = threadsStarted(false);
        assumeTrue(unraised >= CALLS, "this JDK no longer starts a thread per response (" + unraised + " for " + CALLS
                + " calls): the floor is not needed");

        assertThat(threadsStarted(true)).isLessThan(CALLS / 10);
    }

    /** Threads the probe's JVM started during {@link #CALLS} calls. */
    private static long threadsStarted(boolean raiseFloor) throws IOException, InterruptedException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process process = new ProcessBuilder(List.of(java, "-XX:ActiveProcessorCount=2", "-Xmx128m", "-cp",
                System.getProperty("java.class.path"), ResponseThreadsProbe.class.getName(),
                String.valueOf(raiseFloor), String.valueOf(CALLS)))
                .redirectErrorStream(true)
                .start();
        process.getOutputStream().close();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(2, TimeUnit.MINUTES)).as("probe finished").isTrue();
        assertThat(process.exitValue()).as("probe exit code; output:%n%s", output).isZero();
        Matcher started = Pattern.compile("started=(\\d+)").matcher(output);
        assertThat(started.find()).as("probe output:%n%s", output).isTrue();
        return Long.parseLong(started.group(1));
    }
}
