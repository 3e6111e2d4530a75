package io.stagewise.jobs.local;

import org.apache.flink.annotation.Internal;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.apache.flink.api.common.JobID;

/**
 * Reads a running job's progress from Flink's REST API, the same data the dashboard shows:
 * Stagewise metrics summed over subtasks, the latest completed checkpoint, the restart count.
 * Best effort: a failed call yields empty, never an exception, since it only feeds a progress line.
 */
@Internal
public final class FlinkRest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private final String base;

    public FlinkRest(String baseUrl, JobID job) {
        this.base = baseUrl + "/jobs/" + job;
    }

    /** Sum over all subtasks of every operator metric whose name ends with {@code .stagewise.<name>}. */
    public long stagewiseMetric(String name) {
        long total = 0;
        for (JsonNode vertex : get("").map(j -> j.path("vertices")).orElse(JSON.createArrayNode())) {
            String vertexUrl = "/vertices/" + vertex.path("id").asText() + "/subtasks/metrics";
            List<String> ids = new ArrayList<>();
            for (JsonNode metric : get(vertexUrl).orElse(JSON.createArrayNode())) {
                String id = metric.path("id").asText();
                if (id.endsWith(".stagewise." + name)) {
                    ids.add(id);
                }
            }
            if (ids.isEmpty()) {
                continue;
            }
            String query = vertexUrl + "?agg=sum&get=" + URLEncoder.encode(String.join(",", ids), StandardCharsets.UTF_8);
            for (JsonNode metric : get(query).orElse(JSON.createArrayNode())) {
                total += (long) metric.path("sum").asDouble();
            }
        }
        return total;
    }

    /** Id and duration (ms) of the latest completed checkpoint. */
    public Optional<long[]> latestCheckpoint() {
        return get("/checkpoints").map(j -> j.path("latest").path("completed"))
                .filter(c -> c.has("id"))
                .map(c -> new long[] {c.path("id").asLong(), c.path("end_to_end_duration").asLong()});
    }

    public long restarts() {
        return get("/metrics?get=numRestarts")
                .map(j -> j.isArray() && j.size() > 0 ? j.get(0).path("value").asLong() : 0L)
                .orElse(0L);
    }

    private Optional<JsonNode> get(String path) {
        try {
            HttpResponse<String> response = http.send(
                    HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(3)).GET().build(),
                    HttpResponse.BodyHandlers.ofString());
            return response.statusCode() == 200 ? Optional.of(JSON.readTree(response.body())) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        }
    }
}
