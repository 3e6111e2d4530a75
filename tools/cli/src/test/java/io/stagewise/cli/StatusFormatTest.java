package io.stagewise.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;

/** The screen of {@code stagewise status}, rendered from its JSON. */
class StatusFormatTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void theScreenShowsJobCheckpointInputAndEveryMetric() {
        ObjectNode status = JSON.createObjectNode();
        status.putObject("job").put("id", "abc").put("name", "stagewise pipeline payments").put("state", "RUNNING")
                .put("uptimeMs", 3_725_000).put("restarts", 1);
        ObjectNode checkpoint = status.putObject("checkpoint").put("completed", 42).put("failed", 0).put("inProgress", 1);
        checkpoint.putObject("last").put("id", 42).put("durationMs", 180).put("sizeBytes", 2048).put("fullSizeBytes", 3 << 20)
                .put("ageMs", 4_000);
        checkpoint.putObject("durationMs").put("p50", 150).put("p99", 1_250).put("max", 1_300);
        status.putObject("input").put("records", 12_345).put("recordsPerSecond", 99.5);
        ObjectNode metrics = status.putObject("stagewise").put("completed", 12_000).put("deadLettered.permanent", 7);
        metrics.putObject("sink.output.endToEndLatencyMs").put("p50", 1_900).put("p95", 2_400).put("p99", 2_800);

        String screen = StatusCommand.render(status);

        assertThat(screen.lines()).containsExactly(
                "Job         stagewise pipeline payments (abc)",
                "State       RUNNING, up 1h 2m, 1 restart(s)",
                "Checkpoint  #42, 4s ago, took 180 ms, 2.0 KiB (full state 3.0 MiB); 42 completed, 0 failed; all took p50 150 ms,"
                        + " p99 1,250 ms",
                "Input       12,345 records read, 99.5 records/s now",
                "Stagewise metrics (counters summed over subtasks; latencies: the slowest subtask's percentiles, ms)",
                "  completed                      12,000",
                "  deadLettered.permanent         7",
                "  sink.output.endToEndLatencyMs  p50 1,900  p95 2,400  p99 2,800");
    }

    @Test
    void aJobWithoutACompletedCheckpointSaysSo() {
        ObjectNode status = JSON.createObjectNode();
        status.putObject("job").put("id", "abc").put("name", "n").put("state", "CREATED");
        status.putObject("checkpoint").put("completed", 0).put("failed", 2).put("inProgress", 1);

        assertThat(StatusCommand.render(status)).contains("Checkpoint  none completed yet (2 failed, 1 in progress)");
    }
}
