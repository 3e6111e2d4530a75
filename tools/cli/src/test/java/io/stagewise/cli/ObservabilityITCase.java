package io.stagewise.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.stagewise.jobs.local.FlinkRest;
import io.stagewise.jobs.local.LocalFlink;
import io.stagewise.testkit.FreePorts;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * A running demo pipeline seen from outside: Prometheus scrape of every metric the Grafana dashboard
 * uses, {@code stagewise status} against its REST API, and the Flink dashboard in a real headless
 * Chromium (job graph with the named operators, a {@code stagewise} metric above zero, a screenshot
 * in {@code target/flink-dashboard.png}). {@code status --watch} refreshes while the job runs, stops
 * cleanly when interrupted, and ends when the job is cancelled (the last test: it ends the demo).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ObservabilityITCase {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newHttpClient();
    private static final Path GRAFANA = Path.of("..", "..", "flink-conf", "grafana", "stagewise.json");
    private static final Pattern METRIC = Pattern.compile("flink_[A-Za-z0-9_]+");
    private static final Pattern GROUPED_BY = Pattern.compile("by \\(([A-Za-z_]+)\\) \\((?:rate\\()?(flink_[A-Za-z0-9_]+)");
    private static final Duration PATIENCE = Duration.ofMinutes(8);

    @TempDir
    static Path tmp;

    private static int dashboardPort;
    private static int prometheusPort;
    private static CompletableFuture<CliRun> demo;

    @BeforeAll
    static void startDemo() {
        dashboardPort = FreePorts.pick();
        prometheusPort = FreePorts.pick();
        demo = CompletableFuture.supplyAsync(() -> CliRun.stagewise("demo", "--events", "1500", "--rate", "100",
                "--dashboard-port", Integer.toString(dashboardPort), "--prometheus-port", Integer.toString(prometheusPort),
                "--retry-topic-delay", "1s", "--timeout", "15min", "--keep-running",
                "--data-dir", tmp.resolve("demo").toString()));
        await("the demo's job is running").atMost(PATIENCE).pollInterval(Duration.ofSeconds(1))
                .failFast("the demo ended", demo::isDone)
                .until(() -> running().isPresent());
    }

    @AfterAll
    static void stopDemo() throws Exception {
        if (demo == null) {
            return;
        }
        Optional<FlinkRest.JobOverview> job = running();
        if (job.isPresent()) {
            // The demo keeps running until its job ends: cancel it as the dashboard's button would.
            HTTP.send(HttpRequest.newBuilder(URI.create(dashboard() + "/jobs/" + job.get().id() + "?mode=cancel"))
                    .method("PATCH", HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
        }
        try {
            demo.get(3, TimeUnit.MINUTES);
        } catch (Exception e) {
            // A cancelled job ends the demo's wait with an exception; the demo has closed its broker,
            // database and cluster by then.
        }
    }

    private static String dashboard() {
        return LocalFlink.dashboardUrl(dashboardPort);
    }

    private static Optional<FlinkRest.JobOverview> running() {
        try {
            return FlinkRest.jobs(dashboard()).stream().filter(j -> j.state().equals("RUNNING")).findFirst();
        } catch (RuntimeException e) {
            return Optional.empty(); // the dashboard is not up yet
        }
    }

    /** Metric name to the label names its series carry, from Prometheus' text format. */
    private static Map<String, Set<String>> scrape() throws Exception {
        String body = HTTP.send(HttpRequest.newBuilder(URI.create(LocalFlink.prometheusUrl(prometheusPort))).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        Map<String, Set<String>> metrics = new HashMap<>();
        for (String line : body.split("\n")) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            int brace = line.indexOf('{');
            int space = line.indexOf(' ');
            String name = line.substring(0, brace >= 0 && brace < space ? brace : space);
            Set<String> labels = metrics.computeIfAbsent(name, n -> new HashSet<>());
            if (brace >= 0 && brace < space) {
                Matcher label = Pattern.compile("([A-Za-z_]+)=\"").matcher(line.substring(brace, line.lastIndexOf('}')));
                while (label.find()) {
                    labels.add(label.group(1));
                }
            }
        }
        return metrics;
    }

    private static double sum(String metric, String labelFilter) throws Exception {
        String body = HTTP.send(HttpRequest.newBuilder(URI.create(LocalFlink.prometheusUrl(prometheusPort))).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        double total = 0;
        for (String line : body.split("\n")) {
            if (line.startsWith(metric + "{") && line.contains(labelFilter)) {
                double value = Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
                total += Double.isNaN(value) ? 0 : value;
            }
        }
        return total;
    }

    @Test
    void prometheusServesEveryMetricAndLabelTheGrafanaDashboardUses() throws Exception {
        JsonNode grafana = JSON.readTree(Files.readString(GRAFANA));
        Set<String> referenced = new TreeSet<>();
        Map<String, String> groupedBy = new HashMap<>();
        for (JsonNode panel : grafana.path("panels")) {
            for (JsonNode target : panel.path("targets")) {
                String expr = target.path("expr").asText();
                Matcher metric = METRIC.matcher(expr);
                while (metric.find()) {
                    referenced.add(metric.group());
                }
                Matcher by = GROUPED_BY.matcher(expr);
                while (by.find()) {
                    groupedBy.put(by.group(2), by.group(1));
                }
            }
        }
        assertThat(referenced).as("metrics the dashboard references").hasSizeGreaterThan(10)
                .anyMatch(m -> m.endsWith("stagewise_sink_endToEndLatencyMs"));

        await("every metric of flink-conf/grafana/stagewise.json scraped, completions and an end-to-end latency measured")
                .atMost(PATIENCE).pollInterval(Duration.ofSeconds(2))
                .failFast("the demo ended", demo::isDone)
                .untilAsserted(() -> {
                    Map<String, Set<String>> scraped = scrape();
                    assertThat(scraped.keySet()).containsAll(referenced);
                    groupedBy.forEach((metric, label) -> assertThat(scraped.get(metric)).as(metric).contains(label));
                    assertThat(sum("flink_taskmanager_job_task_operator_stagewise_completed", "")).isPositive();
                    assertThat(sum("flink_taskmanager_job_task_operator_stagewise_sink_endToEndLatencyMs_count",
                            "sink=\"output\"")).isPositive();
                });
        assertThat(sum("flink_taskmanager_job_task_operator_stagewise_sink_endToEndLatencyMs",
                "quantile=\"0.99\"")).as("p99 of the output's end-to-end latency, ms").isPositive();
    }

    @Test
    void statusShowsTheRunningJobItsCheckpointAndTheStagewiseCounters() throws Exception {
        await("a completed checkpoint and completions").atMost(PATIENCE).pollInterval(Duration.ofSeconds(2))
                .failFast("the demo ended", demo::isDone)
                .until(() -> {
                    JsonNode status = JSON.readTree(lastLine(CliRun.stagewise("status", "--rest-url", dashboard(), "--json")));
                    return status.path("checkpoint").has("last") && status.path("stagewise").path("completed").asLong() > 0;
                });

        CliRun screen = CliRun.stagewise("status", "--rest-url", dashboard() + "/");
        assertThat(screen.exitCode()).as(screen.err()).isZero();
        assertThat(screen.out()).contains("stagewise demo", "RUNNING", "Checkpoint  #", "records/s",
                "completed", "duplicatesDropped", "stage.charge.latencyMs", "p99");

        CliRun json = CliRun.stagewise("status", "--rest-url", dashboard(), "--json");
        assertThat(json.exitCode()).isZero();
        JsonNode status = JSON.readTree(lastLine(json));
        assertThat(status.path("job").path("state").asText()).isEqualTo("RUNNING");
        assertThat(status.path("job").path("name").asText()).isEqualTo("stagewise demo");
        assertThat(status.path("job").path("uptimeMs").asLong()).isPositive();
        assertThat(status.path("checkpoint").path("last").path("id").asLong()).isPositive();
        JsonNode durations = status.path("checkpoint").path("durationMs");
        assertThat(durations.path("p99").asLong()).as("checkpoint durations from Flink's summary: %s", durations)
                .isPositive().isGreaterThanOrEqualTo(durations.path("p50").asLong())
                .isLessThanOrEqualTo(durations.path("max").asLong());
        assertThat(status.path("input").path("records").asLong()).isPositive();
        assertThat(status.path("stagewise").path("completed").asLong()).isPositive();
        assertThat(status.path("stagewise").path("stage.charge.latencyMs").has("p99")).isTrue();
        assertThat(status.path("stagewise").path("sink.output.endToEndLatencyMs").has("p50")).isTrue();

        CliRun unknown = CliRun.stagewise("status", "--rest-url", dashboard(), "--job", "0123456789abcdef0123456789abcdef");
        assertThat(unknown.exitCode()).isEqualTo(2);
        assertThat(unknown.err()).contains("no job 0123456789abcdef0123456789abcdef").contains("stagewise demo");
    }

    @Test
    void theFlinkDashboardShowsTheStagewiseOperatorsAndAStagewiseMetricInARealBrowser() throws Exception {
        Optional<Path> chromium = HeadlessChromium.find();
        Assumptions.assumeTrue(chromium.isPresent(),
                "chromium is not installed (Debian: apt-get install -y chromium; .ci/run installs it): browser check skipped");
        FlinkRest.JobOverview job = running().orElseThrow();
        String stagesVertex = null;
        for (JsonNode vertex : new FlinkRest(dashboard(), job.id()).details().orElseThrow().path("vertices")) {
            if (vertex.path("name").asText().startsWith("Stages")) {
                stagesVertex = vertex.path("id").asText();
            }
        }
        assertThat(stagesVertex).as("the stage operator's vertex").isNotNull();
        await("a completion").atMost(PATIENCE).failFast("the demo ended", demo::isDone)
                .until(() -> new FlinkRest(dashboard(), job.id()).stagewiseMetric("completed") > 0);

        try (HeadlessChromium browser = HeadlessChromium.start(chromium.get(), tmp)) {
            browser.open(dashboard() + "/#/job/running/" + job.id() + "/overview/" + stagesVertex + "/metrics");
            await("the job graph with the named Stagewise operators").atMost(Duration.ofMinutes(2))
                    .pollInterval(Duration.ofSeconds(1))
                    .untilAsserted(() -> assertThat(browser.html()).contains("Source: Kafka source", "Malformed split",
                            "Stages (payments)", "Ledger (PostgreSQL, exactly once)", "DLQ (Kafka, exactly once)",
                            "End-to-end latency (output)", "Add Metric"));

            // Pick the metric as a person would: open the selector, search, click the option, show it as a number.
            String picked = browser.evaluate("""
                    (async () => {
                      const pause = ms => new Promise(done => setTimeout(done, ms));
                      const select = document.querySelector('.metric-selector nz-select');
                      select.querySelector('.ant-select-selector').click();
                      await pause(500);
                      const search = select.querySelector('input');
                      search.value = 'stagewise.completed';
                      search.dispatchEvent(new Event('input', {bubbles: true}));
                      await pause(1000);
                      const option = [...document.querySelectorAll('nz-option-item')]
                          .find(o => o.textContent.includes('stagewise.completed'));
                      if (!option) return 'no option';
                      option.click();
                      await pause(1000);
                      const numeric = [...document.querySelectorAll('.metric-area button, .metric-area label, .metric-area span')]
                          .find(b => b.textContent.trim() === 'Numeric');
                      if (numeric) numeric.click();
                      return option.textContent.trim();
                    })()
                    """);
            assertThat(picked).endsWith("Stages_(payments).stagewise.completed");
            await("the dashboard shows stagewise.completed above zero").atMost(Duration.ofMinutes(1))
                    .pollInterval(Duration.ofSeconds(1))
                    .untilAsserted(() -> {
                        String area = browser.evaluate("document.querySelector('.metric-area').innerText");
                        assertThat(area).contains("stagewise.completed");
                        assertThat(numbers(area)).as(area).anyMatch(n -> n > 0);
                    });
            Path screenshot = Path.of("target", "flink-dashboard.png");
            browser.screenshot(screenshot);
            assertThat(Files.size(screenshot)).isGreaterThan(10_000);
        }
    }

    /** The whole numbers in a text, without digits that are part of a name like {@code 0.Stages}. */
    private static Set<Long> numbers(String text) {
        Set<Long> numbers = new HashSet<>();
        for (String line : text.split("\n")) {
            String trimmed = line.trim().replace(",", "");
            if (trimmed.matches("\\d+(\\.\\d+)?")) {
                numbers.add((long) Double.parseDouble(trimmed));
            }
        }
        return numbers;
    }

    private static String lastLine(CliRun run) {
        String[] lines = run.out().strip().split("\n");
        return lines[lines.length - 1];
    }

    /** {@code status --watch} in a thread of its own, its output as it grows. */
    private record Watch(Thread thread, CompletableFuture<Integer> exit, StringWriter out, StringWriter err) {
        static Watch start(String... args) {
            StringWriter out = new StringWriter();
            StringWriter err = new StringWriter();
            CommandLine cli = Stagewise.commandLine(new Stagewise());
            cli.setOut(new PrintWriter(out, true));
            cli.setErr(new PrintWriter(err, true));
            CompletableFuture<Integer> exit = new CompletableFuture<>();
            Thread thread = new Thread(() -> exit.complete(cli.execute(args)), "status-watch");
            thread.start();
            return new Watch(thread, exit, out, err);
        }

        List<JsonNode> screens() throws IOException {
            List<JsonNode> screens = new ArrayList<>();
            for (String line : out.toString().split("\n")) {
                if (!line.isBlank()) {
                    screens.add(JSON.readTree(line));
                }
            }
            return screens;
        }
    }

    @Test
    void statusWatchRefreshesWhileTheJobRunsAndStopsWhenInterrupted() throws Exception {
        Watch watch = Watch.start("status", "--rest-url", dashboard(), "--watch", "--json", "--interval", "500ms");
        await("three screens, the last checkpoint advancing between them").atMost(PATIENCE).pollInterval(Duration.ofMillis(500))
                .failFast("the watch ended", watch.exit()::isDone)
                .until(() -> {
                    List<JsonNode> screens = watch.screens();
                    return screens.size() >= 3 && screens.stream().map(s -> s.path("checkpoint").path("last").path("id").asLong())
                            .distinct().count() >= 2;
                });
        watch.thread().interrupt();
        assertThat(watch.exit().get(30, TimeUnit.SECONDS)).as("exit code after an interrupt; stderr: " + watch.err()).isZero();
        assertThat(watch.err().toString()).isEmpty();
        List<JsonNode> screens = watch.screens();
        long uptime = -1;
        long checkpoint = 0;
        for (JsonNode screen : screens) {
            assertThat(screen.path("job").path("state").asText()).isEqualTo("RUNNING");
            assertThat(screen.path("job").path("uptimeMs").asLong()).as("uptime grows from screen to screen").isGreaterThan(uptime);
            assertThat(screen.path("checkpoint").path("last").path("id").asLong()).as("checkpoints never go back")
                    .isGreaterThanOrEqualTo(checkpoint);
            uptime = screen.path("job").path("uptimeMs").asLong();
            checkpoint = screen.path("checkpoint").path("last").path("id").asLong();
        }
        assertThat(screens.stream().map(s -> s.path("job").path("id").asText()).distinct()).hasSize(1);
    }

    /** Runs last: cancelling the job ends the demo, and with it the cluster. */
    @Test
    @Order(Integer.MAX_VALUE)
    void statusWatchEndsWhenTheJobEnds() throws Exception {
        FlinkRest.JobOverview job = running().orElseThrow();
        Watch watch = Watch.start("status", "--rest-url", dashboard(), "--watch", "--json", "--interval", "200ms");
        await("a first screen").atMost(PATIENCE).failFast("the watch ended", watch.exit()::isDone)
                .until(() -> !watch.screens().isEmpty());
        HTTP.send(HttpRequest.newBuilder(URI.create(dashboard() + "/jobs/" + job.id() + "?mode=cancel"))
                .method("PATCH", HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
        int exit = watch.exit().get(2, TimeUnit.MINUTES);
        List<JsonNode> screens = watch.screens();
        String last = screens.get(screens.size() - 1).path("job").path("state").asText();
        // Either the watch saw the job CANCELED (exit 0), or the demo shut its cluster down right after
        // the cancellation, between two screens (exit 2, one line naming the job).
        if (exit == 0) {
            assertThat(last).as("the last screen shows the job's end").isEqualTo("CANCELED");
            assertThat(watch.err().toString()).isEmpty();
        } else {
            assertThat(exit).as("stdout: %s%nstderr: %s", watch.out(), watch.err()).isEqualTo(2);
            assertThat(watch.err().toString().strip()).startsWith("status: " + dashboard() + " no longer answers for job " + job.id())
                    .doesNotContain("Exception").hasLineCount(1);
        }
        assertThat(watch.thread().isAlive()).isFalse();
    }
}
