package io.stagewise.jobs.local;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Metric queries stay under the request-line limit of Flink's REST server (4096 bytes). */
class FlinkRestTest {
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
