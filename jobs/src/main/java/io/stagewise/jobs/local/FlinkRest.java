package io.stagewise.jobs.local;

import org.apache.flink.annotation.Internal;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.stagewise.jobs.StagewiseException;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.apache.flink.api.common.JobID;

/**
 * Reads a running job's progress from Flink's REST API, the same data the dashboard shows:
 * Stagewise metrics summed over subtasks, the latest completed checkpoint, the restart count.
 * Best effort: a failed call yields empty, never an exception, since it only feeds a progress line
 * or a status screen; only {@link #jobs} fails loudly, so a wrong URL is reported once, clearly.
 */
@Internal
public final class FlinkRest {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Characters of metric ids per REST query (the request line must stay under 4096 bytes). */
    static final int MAX_QUERY_CHARS = 2500;

    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private final String base;

    /** A job as {@code GET /jobs/overview} lists it. */
    public record JobOverview(String id, String name, String state, long startTime) {}

    /**
     * Every job the cluster at {@code baseUrl} knows, newest first.
     *
     * @throws StagewiseException when the REST API does not answer (naming the URL and the flag)
     */
    public static List<JobOverview> jobs(String baseUrl) {
        String url = baseUrl + "/jobs/overview";
        HttpResponse<String> response;
        try {
            response = HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(5)).GET().build(),
                    HttpResponse.BodyHandlers.ofString());
        } catch (IOException | IllegalArgumentException e) {
            throw new StagewiseException("cannot reach Flink's REST API at " + baseUrl + " (" + e + "); is --rest-url right?");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StagewiseException("interrupted while reading " + url);
        }
        if (response.statusCode() != 200) {
            throw new StagewiseException(url + " answered HTTP " + response.statusCode() + "; is --rest-url a Flink REST API?");
        }
        List<JobOverview> jobs = new ArrayList<>();
        try {
            for (JsonNode job : JSON.readTree(response.body()).path("jobs")) {
                jobs.add(new JobOverview(job.path("jid").asText(), job.path("name").asText(), job.path("state").asText(),
                        job.path("start-time").asLong()));
            }
        } catch (IOException e) {
            throw new StagewiseException(url + " did not answer JSON; is --rest-url a Flink REST API?");
        }
        jobs.sort(Comparator.comparingLong(JobOverview::startTime).reversed());
        return jobs;
    }

    /** {@code GET /jobs/<id>}: name, state, start time, duration, vertices with their record counts. */
    public Optional<JsonNode> details() {
        return get("");
    }

    /** {@code GET /jobs/<id>/checkpoints}: counts, the latest completed checkpoint, history. */
    public Optional<JsonNode> checkpoints() {
        return get("/checkpoints");
    }

    /**
     * Every metric of group {@code stagewise}, by its name below the group (e.g. {@code completed},
     * {@code stage.charge.latencyMs_p99}), aggregated over all subtasks of all operators: counters
     * and gauges summed; histogram percentiles, maxima and ages are the worst subtask's (a sum of
     * percentiles means nothing).
     */
    public Map<String, Double> stagewiseMetrics() {
        Map<String, Double> metrics = new TreeMap<>();
        for (JsonNode vertex : get("").map(j -> j.path("vertices")).orElse(JSON.createArrayNode())) {
            String vertexUrl = "/vertices/" + vertex.path("id").asText() + "/subtasks/metrics";
            List<String> ids = new ArrayList<>();
            for (JsonNode metric : get(vertexUrl).orElse(JSON.createArrayNode())) {
                String id = metric.path("id").asText();
                if (id.contains(".stagewise.")) {
                    ids.add(id);
                }
            }
            if (ids.isEmpty()) {
                continue;
            }
            for (List<String> batch : batches(ids)) {
                String query = vertexUrl + "?agg=sum,max&get=" + URLEncoder.encode(String.join(",", batch), StandardCharsets.UTF_8);
                for (JsonNode metric : get(query).orElse(JSON.createArrayNode())) {
                    String name = metric.path("id").asText();
                    name = name.substring(name.indexOf(".stagewise.") + ".stagewise.".length());
                    if (takesMax(name)) {
                        metrics.merge(name, metric.path("max").asDouble(), Math::max);
                    } else {
                        metrics.merge(name, metric.path("sum").asDouble(), Double::sum);
                    }
                }
            }
        }
        return metrics;
    }

    /**
     * Metric ids in groups whose query stays below {@link #MAX_QUERY_CHARS}: Flink's REST server
     * refuses a request line longer than 4096 bytes, and a payments job has over a hundred ids.
     */
    static List<List<String>> batches(List<String> ids) {
        List<List<String>> batches = new ArrayList<>();
        List<String> batch = new ArrayList<>();
        int length = 0;
        for (String id : ids) {
            int encoded = URLEncoder.encode(id, StandardCharsets.UTF_8).length() + 3;
            if (!batch.isEmpty() && length + encoded > MAX_QUERY_CHARS) {
                batches.add(batch);
                batch = new ArrayList<>();
                length = 0;
            }
            batch.add(id);
            length += encoded;
        }
        if (!batch.isEmpty()) {
            batches.add(batch);
        }
        return batches;
    }

    private static boolean takesMax(String name) {
        return name.matches(".*_(min|max|mean|median|stddev|p\\d+)") || name.endsWith("AgeMs");
    }

    /** Records per second the job's sources emit now (Flink's one-minute rate), summed over subtasks. */
    public double sourceRecordsPerSecond() {
        double total = 0;
        for (JsonNode vertex : get("").map(j -> j.path("vertices")).orElse(JSON.createArrayNode())) {
            if (!vertex.path("name").asText().startsWith("Source")) {
                continue;
            }
            String vertexUrl = "/vertices/" + vertex.path("id").asText() + "/subtasks/metrics";
            List<String> ids = new ArrayList<>();
            for (JsonNode metric : get(vertexUrl).orElse(JSON.createArrayNode())) {
                String id = metric.path("id").asText();
                if (id.startsWith("Source") && id.endsWith(".numRecordsOutPerSecond")) {
                    ids.add(id);
                }
            }
            if (ids.isEmpty()) {
                continue;
            }
            for (List<String> batch : batches(ids)) {
                String query = vertexUrl + "?agg=sum&get=" + URLEncoder.encode(String.join(",", batch), StandardCharsets.UTF_8);
                for (JsonNode metric : get(query).orElse(JSON.createArrayNode())) {
                    total += metric.path("sum").asDouble();
                }
            }
        }
        return total;
    }

    public FlinkRest(String baseUrl, JobID job) {
        this(baseUrl, job.toHexString());
    }

    public FlinkRest(String baseUrl, String jobId) {
        this.base = baseUrl + "/jobs/" + jobId;
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
            for (List<String> batch : batches(ids)) {
                String query = vertexUrl + "?agg=sum&get=" + URLEncoder.encode(String.join(",", batch), StandardCharsets.UTF_8);
                for (JsonNode metric : get(query).orElse(JSON.createArrayNode())) {
                    total += (long) metric.path("sum").asDouble();
                }
            }
        }
        return total;
    }

    /**
     * End-to-end durations (ms) of the job's completed checkpoints, from Flink's checkpoint statistics
     * ({@code summary.end_to_end_duration} of {@code /jobs/<id>/checkpoints}: Flink's summary of the
     * checkpoints completed since the job started on this JobManager, not only the few its history lists).
     */
    public record CheckpointDurations(long completed, long failed, long p50, long p99, long max) {
        /** From a {@code /jobs/<id>/checkpoints} response; empty before the first completed checkpoint. */
        public static Optional<CheckpointDurations> of(JsonNode checkpoints) {
            long completed = checkpoints.path("counts").path("completed").asLong();
            JsonNode duration = checkpoints.path("summary").path("end_to_end_duration");
            if (completed < 1 || !duration.has("p99")) {
                return Optional.empty();
            }
            return Optional.of(new CheckpointDurations(completed, checkpoints.path("counts").path("failed").asLong(),
                    Math.round(duration.path("p50").asDouble()), Math.round(duration.path("p99").asDouble()),
                    duration.path("max").asLong()));
        }

        /** E.g. {@code 85 completed (0 failed), end-to-end p50 1.5 s, p99 5.1 s, max 16.5 s}. */
        public String render() {
            return String.format(Locale.ROOT, "%d completed (%d failed), end-to-end p50 %.1f s, p99 %.1f s, max %.1f s",
                    completed, failed, p50 / 1000.0, p99 / 1000.0, max / 1000.0);
        }
    }

    /** Durations of the job's completed checkpoints so far; empty before the first. */
    public Optional<CheckpointDurations> checkpointDurations() {
        return checkpoints().flatMap(CheckpointDurations::of);
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
            HttpResponse<String> response = HTTP.send(
                    HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(3)).GET().build(),
                    HttpResponse.BodyHandlers.ofString());
            return response.statusCode() == 200 ? Optional.of(JSON.readTree(response.body())) : Optional.empty();
        } catch (IOException | IllegalArgumentException e) {
            return Optional.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        }
    }
}
