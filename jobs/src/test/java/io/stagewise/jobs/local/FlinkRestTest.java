package io.stagewise.jobs.local;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Reading Flink's REST answers: metric queries that fit a request line, checkpoint statistics. */
class FlinkRestTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void checkpointDurationsComeFromTheSummaryOfCompletedCheckpoints() throws Exception {
        // The shape of GET /jobs/<id>/checkpoints in Flink 2.2 (fields trimmed).
        String answer = """
                {"counts":{"restored":0,"total":12,"in_progress":1,"completed":10,"failed":1},
                 "summary":{"end_to_end_duration":{"min":40,"max":5300,"avg":900,"p50":612.5,"p90":2100.0,
                   "p95":3000.0,"p99":5123.4,"p999":5300.0}},
                 "latest":{"completed":{"id":11,"end_to_end_duration":700}}}""";

        FlinkRest.CheckpointDurations durations = FlinkRest.CheckpointDurations.of(JSON.readTree(answer)).orElseThrow();

        assertThat(durations).isEqualTo(new FlinkRest.CheckpointDurations(10, 1, 613, 5123, 5300));
        assertThat(durations.render()).isEqualTo("10 completed (1 failed), end-to-end p50 0.6 s, p99 5.1 s, max 5.3 s");
        assertThat(FlinkRest.CheckpointDurations.of(JSON.readTree("""
                {"counts":{"completed":0,"failed":0},"summary":{"end_to_end_duration":{"min":0,"max":0}}}""")))
                .as("no checkpoint completed yet").isEmpty();
    }

    @Test
    void manyMetricIdsAreQueriedInBatchesThatFitARequestLine() {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 150; i++) {
            ids.add("End-to-end_latency_(output).stagewise.sink.output.endToEndLatencyMs_p" + i);
        }

        List<List<String>> batches = FlinkRest.batches(ids);

        assertThat(batches).hasSizeGreaterThan(1);
        assertThat(batches.stream().flatMap(List::stream).toList()).isEqualTo(ids);
        for (List<String> batch : batches) {
            assertThat(URLEncoder.encode(String.join(",", batch), StandardCharsets.UTF_8).length())
                    .isLessThanOrEqualTo(FlinkRest.MAX_QUERY_CHARS);
        }
        assertThat(FlinkRest.batches(List.of())).isEmpty();
    }
}
