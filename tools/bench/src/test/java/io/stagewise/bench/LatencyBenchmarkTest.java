package io.stagewise.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The parts of the latency and state suites that decide what is reported, without running a job. */
class LatencyBenchmarkTest {
    @TempDir
    Path tmp;

    @Test
    void percentilesAreNearestRankOverTheSortedLatencies() {
        long[] hundred = LongStream.rangeClosed(1, 100).toArray();
        assertThat(LatencyBenchmark.percentile(hundred, 50)).isEqualTo(50);
        assertThat(LatencyBenchmark.percentile(hundred, 99)).isEqualTo(99);
        assertThat(LatencyBenchmark.percentile(new long[] {7}, 99)).isEqualTo(7);
        assertThat(LatencyBenchmark.percentile(new long[] {1, 2, 3}, 50)).isEqualTo(2);
        assertThat(LatencyBenchmark.percentile(new long[0], 50)).as("no records").isEqualTo(-1);
    }

    @Test
    void theStateSuiteMeasuresTheNewestCompleteCheckpointOnly() throws Exception {
        Path job = Files.createDirectories(tmp.resolve("bench-state-full").resolve("0123abcd"));
        assertThat(StateBenchmark.latestCheckpoint(tmp.resolve("bench-state-full"))).isEmpty();
        Files.createDirectories(job.resolve("chk-2"));
        Files.writeString(job.resolve("chk-2").resolve("_metadata"), "x");
        Files.createDirectories(job.resolve("chk-10"));
        Files.writeString(job.resolve("chk-10").resolve("_metadata"), "x");
        Files.createDirectories(job.resolve("chk-11")); // still being written: no metadata yet
        Files.createDirectories(job.resolve("shared"));
        assertThat(StateBenchmark.latestCheckpoint(tmp.resolve("bench-state-full")))
                .hasValueSatisfying(c -> assertThat(c.id()).isEqualTo(10));
        assertThat(StateBenchmark.latestCheckpoint(tmp.resolve("missing"))).isEmpty();
    }
}
