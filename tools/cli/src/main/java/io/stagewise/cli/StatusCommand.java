package io.stagewise.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.stagewise.jobs.StagewiseException;
import io.stagewise.jobs.flags.DurationConverter;
import io.stagewise.jobs.local.FlinkRest;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code stagewise status}: one screen from Flink's REST API for a running Stagewise job on any
 * cluster or the local one: job state, uptime, restarts, the last checkpoint, input throughput and
 * the {@code stagewise} metrics summed over subtasks (histograms: the worst subtask's percentiles).
 * Read-only: it never changes the job. An unreachable URL or an ambiguous job exits 2.
 *
 * <p>{@code --watch} prints a screen (or a JSON line) every {@code --interval} and ends (1) with
 * exit 0 after the screen that shows the job FINISHED, CANCELED, FAILED or SUSPENDED, (2) with exit
 * 0 when its thread is interrupted, (3) with exit 2 and one line on stderr when the REST API stops
 * answering for the job between two screens (the cluster went away with it).
 */
@Command(name = "status", mixinStandardHelpOptions = true,
        description = "Show a running Stagewise job from Flink's REST API: state, uptime, restarts, last checkpoint,"
                + " throughput and the stagewise metrics summed over subtasks.")
public final class StatusCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Set<String> TERMINAL = Set.of("FINISHED", "CANCELED", "FAILED", "SUSPENDED");
    /** Histogram statistics shown; Flink also reports min, mean, stddev, p75, p90, p98, p999. */
    private static final Map<String, String> PERCENTILES = Map.of("median", "p50", "p95", "p95", "p99", "p99");

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--rest-url", defaultValue = "http://127.0.0.1:8081",
            description = "Flink's REST API (the dashboard's address; default: ${DEFAULT-VALUE}).")
    String restUrl;

    @Option(names = "--job", paramLabel = "JOB_ID",
            description = "The job to show (default: the only running job, or the newest job when none runs).")
    String jobId;

    @Option(names = "--watch", description = "Refresh every --interval until the job ends or Ctrl-C.")
    boolean watch;

    @Option(names = "--interval", defaultValue = "2s", converter = DurationConverter.class,
            description = "Refresh interval of --watch (default: ${DEFAULT-VALUE}).")
    Duration interval;

    @Option(names = "--json", description = "Print the status as one JSON line (one per refresh with --watch).")
    boolean json;

    @Override
    public Integer call() throws Exception {
        String base = restUrl.replaceAll("/+$", "");
        PrintWriter out = spec.commandLine().getOut();
        FlinkRest.JobOverview job = pick(FlinkRest.jobs(base));
        FlinkRest rest = new FlinkRest(base, job.id());
        boolean clear = watch && !json && System.console() != null;
        String lastState = job.state();
        for (int screen = 0; ; screen++) {
            if (screen > 0 && rest.details().isEmpty()) {
                if (Thread.currentThread().isInterrupted()) {
                    return 0; // (2), during the request
                }
                // (3) The cluster stopped answering (or forgot the job) between two screens: a
                // session cluster shut down, or a local run that ended with its job.
                spec.commandLine().getErr().println("status: " + restUrl + " no longer answers for job " + job.id()
                        + " (last state " + lastState + "); stopped watching");
                return 2;
            }
            ObjectNode status = read(rest, job);
            if (Thread.currentThread().isInterrupted()) {
                return 0; // (2): a screen read half-way (its requests cut short) is not shown
            }
            lastState = status.path("job").path("state").asText();
            if (clear) {
                out.print("\u001b[H\u001b[2J");
            }
            out.println(json ? status.toString() : render(status));
            out.flush();
            if (!watch || TERMINAL.contains(lastState)) {
                return 0; // (1) one screen, or the job ended: its last screen shows how
            }
            try {
                // Refresh pacing for a console screen, not a wait for a condition.
                TimeUnit.MILLISECONDS.sleep(interval.toMillis());
            } catch (InterruptedException e) {
                // (2) Interrupted: the last screen stands, nothing half-printed.
                Thread.currentThread().interrupt();
                return 0;
            }
        }
    }

    private FlinkRest.JobOverview pick(List<FlinkRest.JobOverview> jobs) {
        if (jobId != null) {
            return jobs.stream().filter(j -> j.id().equals(jobId)).findFirst()
                    .orElseThrow(() -> new StagewiseException("no job " + jobId + " at " + restUrl + "; jobs there: "
                            + describe(jobs)));
        }
        if (jobs.isEmpty()) {
            throw new StagewiseException("no job at " + restUrl + " (is the pipeline submitted? is --rest-url right?)");
        }
        List<FlinkRest.JobOverview> running = jobs.stream().filter(j -> !TERMINAL.contains(j.state())).toList();
        if (running.size() > 1) {
            throw new StagewiseException(running.size() + " jobs run at " + restUrl + "; choose one with --job: "
                    + describe(running));
        }
        return running.isEmpty() ? jobs.get(0) : running.get(0);
    }

    private static String describe(List<FlinkRest.JobOverview> jobs) {
        return jobs.isEmpty() ? "none" : jobs.stream().map(j -> j.id() + " '" + j.name() + "' " + j.state())
                .collect(Collectors.joining(", "));
    }

    /** The status as JSON; the screen is rendered from it, so both always agree. */
    static ObjectNode read(FlinkRest rest, FlinkRest.JobOverview overview) {
        ObjectNode status = JSON.createObjectNode();
        JsonNode details = rest.details().orElse(JSON.createObjectNode());
        long now = details.path("now").asLong(System.currentTimeMillis());
        ObjectNode job = status.putObject("job");
        job.put("id", overview.id());
        job.put("name", details.path("name").asText(overview.name()));
        job.put("state", details.path("state").asText(overview.state()));
        job.put("uptimeMs", details.path("duration").asLong(0));
        job.put("restarts", rest.restarts());

        ObjectNode checkpoint = status.putObject("checkpoint");
        JsonNode stats = rest.checkpoints().orElse(JSON.createObjectNode());
        JsonNode counts = stats.path("counts");
        checkpoint.put("completed", counts.path("completed").asLong());
        checkpoint.put("failed", counts.path("failed").asLong());
        checkpoint.put("inProgress", counts.path("in_progress").asLong());
        JsonNode latest = stats.path("latest").path("completed");
        if (latest.has("id")) {
            ObjectNode last = checkpoint.putObject("last");
            last.put("id", latest.path("id").asLong());
            last.put("durationMs", latest.path("end_to_end_duration").asLong());
            last.put("sizeBytes", latest.path("checkpointed_size").asLong());
            last.put("fullSizeBytes", latest.path("state_size").asLong());
            last.put("ageMs", Math.max(0, now - latest.path("latest_ack_timestamp").asLong()));
        }
        FlinkRest.CheckpointDurations.of(stats).ifPresent(durations -> {
            ObjectNode summary = checkpoint.putObject("durationMs");
            summary.put("p50", durations.p50());
            summary.put("p99", durations.p99());
            summary.put("max", durations.max());
        });

        ObjectNode input = status.putObject("input");
        long read = 0;
        for (JsonNode vertex : details.path("vertices")) {
            if (vertex.path("name").asText().startsWith("Source")) {
                read += vertex.path("metrics").path("write-records").asLong();
            }
        }
        input.put("records", read);
        input.put("recordsPerSecond", Math.round(rest.sourceRecordsPerSecond() * 10) / 10.0);

        ObjectNode metrics = status.putObject("stagewise");
        Map<String, ObjectNode> histograms = new TreeMap<>();
        rest.stagewiseMetrics().forEach((name, value) -> {
            int cut = name.lastIndexOf('_');
            String stat = cut < 0 ? "" : name.substring(cut + 1);
            if (cut > 0 && PERCENTILES.containsKey(stat)) {
                ObjectNode histogram = histograms.computeIfAbsent(name.substring(0, cut), n -> JSON.createObjectNode());
                histogram.put(PERCENTILES.get(stat), Math.round(value));
            } else if (cut < 0 || !isHistogramStatistic(stat)) {
                metrics.put(name, Math.round(value));
            }
        });
        histograms.forEach(metrics::set);
        return status;
    }

    /** {@code "; all took p50 150 ms, p99 900 ms"}, or nothing before the summary exists. */
    private static String durations(JsonNode durationMs) {
        return durationMs.has("p99") ? String.format(Locale.ROOT, "; all took p50 %,d ms, p99 %,d ms",
                durationMs.path("p50").asLong(), durationMs.path("p99").asLong()) : "";
    }

    private static boolean isHistogramStatistic(String stat) {
        return stat.matches("min|max|mean|stddev|p\\d+");
    }

    /** The one screen. */
    static String render(JsonNode status) {
        JsonNode job = status.path("job");
        JsonNode checkpoint = status.path("checkpoint");
        JsonNode input = status.path("input");
        List<String> lines = new ArrayList<>();
        lines.add(String.format(Locale.ROOT, "Job         %s (%s)", job.path("name").asText(), job.path("id").asText()));
        lines.add(String.format(Locale.ROOT, "State       %s, up %s, %d restart(s)", job.path("state").asText(),
                duration(job.path("uptimeMs").asLong()), job.path("restarts").asLong()));
        JsonNode last = checkpoint.path("last");
        lines.add(last.isMissingNode()
                ? String.format(Locale.ROOT, "Checkpoint  none completed yet (%d failed, %d in progress)",
                        checkpoint.path("failed").asLong(), checkpoint.path("inProgress").asLong())
                : String.format(Locale.ROOT, "Checkpoint  #%d, %s ago, took %d ms, %s (full state %s); %d completed, %d failed%s",
                        last.path("id").asLong(), duration(last.path("ageMs").asLong()), last.path("durationMs").asLong(),
                        bytes(last.path("sizeBytes").asLong()), bytes(last.path("fullSizeBytes").asLong()),
                        checkpoint.path("completed").asLong(), checkpoint.path("failed").asLong(),
                        durations(checkpoint.path("durationMs"))));
        lines.add(String.format(Locale.ROOT, "Input       %,d records read, %.1f records/s now", input.path("records").asLong(),
                input.path("recordsPerSecond").asDouble()));
        lines.add("Stagewise metrics (counters summed over subtasks; latencies: the slowest subtask's percentiles, ms)");
        int width = 0;
        for (var names = status.path("stagewise").fieldNames(); names.hasNext(); ) {
            width = Math.max(width, names.next().length());
        }
        for (var fields = status.path("stagewise").fields(); fields.hasNext(); ) {
            Map.Entry<String, JsonNode> field = fields.next();
            JsonNode value = field.getValue();
            String text = value.isObject()
                    ? String.format(Locale.ROOT, "p50 %,d  p95 %,d  p99 %,d", value.path("p50").asLong(),
                            value.path("p95").asLong(), value.path("p99").asLong())
                    : String.format(Locale.ROOT, "%,d", value.asLong());
            lines.add(String.format(Locale.ROOT, "  %-" + width + "s  %s", field.getKey(), text));
        }
        return String.join(System.lineSeparator(), lines);
    }

    static String duration(long millis) {
        long seconds = millis / 1000;
        if (seconds >= 86400) {
            return seconds / 86400 + "d " + seconds % 86400 / 3600 + "h";
        }
        if (seconds >= 3600) {
            return seconds / 3600 + "h " + seconds % 3600 / 60 + "m";
        }
        if (seconds >= 60) {
            return seconds / 60 + "m " + seconds % 60 + "s";
        }
        return seconds + "s";
    }

    static String bytes(long bytes) {
        if (bytes < 1024) {
            return bytes + " B";
        }
        if (bytes < 1024 * 1024) {
            return String.format(Locale.ROOT, "%.1f KiB", bytes / 1024.0);
        }
        return String.format(Locale.ROOT, "%.1f MiB", bytes / (1024.0 * 1024));
    }
}
