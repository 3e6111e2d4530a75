package io.stagewise.e2e;

import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.stagewise.testkit.FreePorts;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * A real standalone Flink session cluster as separate processes, built from the Maven jars in
 * {@code target/flink/lib} the way flink-dist's scripts start one: a JobManager
 * ({@code StandaloneSessionClusterEntrypoint}) and TaskManagers ({@code TaskManagerRunner}) with the
 * memory flags {@code BashJavaUtils} computes, and Flink's own CLI ({@code CliFrontend}) with
 * {@code FLINK_CONF_DIR} for {@code run}, {@code stop} and {@code list}.
 *
 * <p>Its {@code conf/config.yaml} is the shipped {@code flink-conf/config.yaml}, then the suite's
 * test-only overrides ({@code cluster/test-overrides.yaml}: fast heartbeats, small processes), then
 * this machine's hosts, ports and directories, all inside the test's folder.
 */
final class FlinkCluster {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String BASH_JAVA_UTILS_PREFIX = "BASH_JAVA_UTILS_EXEC_RESULT:";
    private static final Pattern JOB_ID = Pattern.compile("JobID ([0-9a-f]{32})");
    private static final Pattern SAVEPOINT = Pattern.compile("Savepoint completed\\. Path: (\\S+)");

    private final ChildProcesses processes;
    private final Path home;
    private final Path lib;
    private final Path conf;
    private final int restPort = FreePorts.pick();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build();
    private final Map<String, Process> taskManagers = new LinkedHashMap<>();
    /** The flattened {@code conf/config.yaml}: its {@code env.java.opts.*} go on the command lines as flink-dist's scripts put them. */
    private Map<String, String> settings;
    private int cliRuns;

    FlinkCluster(ChildProcesses processes, Path home) throws IOException {
        this.processes = processes;
        this.home = home;
        this.lib = Path.of(System.getProperty("stagewise.flink.lib", "target/flink/lib")).toAbsolutePath();
        if (!Files.isDirectory(lib)) {
            throw new IllegalStateException("no Flink lib folder at " + lib + ": run through Maven (the module copies it)");
        }
        this.conf = Files.createDirectories(home.resolve("conf"));
        Files.createDirectories(home.resolve("log"));
        writeConfig();
    }

    Path checkpoints() {
        return home.resolve("checkpoints");
    }

    String restUrl() {
        return "http://localhost:" + restPort;
    }

    private void writeConfig() throws IOException {
        settings = new LinkedHashMap<>(FlinkConfigFiles.flatten(
                FlinkConfigFiles.read(FlinkConfigFiles.shippedDir().resolve("config.yaml"))));
        try (var overrides = FlinkCluster.class.getResourceAsStream("/cluster/test-overrides.yaml")) {
            settings.putAll(FlinkConfigFiles.flatten(FlinkConfigFiles.YAML.readTree(overrides)));
        }
        Path tmp = Files.createDirectories(home.resolve("tmp"));
        settings.put("jobmanager.rpc.address", "localhost");
        settings.put("jobmanager.rpc.port", Integer.toString(FreePorts.pick()));
        settings.put("jobmanager.bind-host", "localhost");
        settings.put("taskmanager.host", "localhost");
        settings.put("taskmanager.bind-host", "localhost");
        settings.put("rest.address", "localhost");
        settings.put("rest.bind-address", "localhost");
        settings.put("rest.port", Integer.toString(restPort));
        settings.put("io.tmp.dirs", tmp.toString());
        settings.put("execution.checkpointing.dir", checkpoints().toUri().toString());
        settings.put("execution.checkpointing.savepoint-dir", home.resolve("savepoints").toUri().toString());
        StringBuilder yaml = new StringBuilder("# Written by the cluster suite: flink-conf/config.yaml + cluster/test-overrides.yaml + this run's paths.\n");
        settings.forEach((key, value) -> yaml.append(key).append(": '").append(value.replace("'", "''")).append("'\n"));
        Files.writeString(conf.resolve("config.yaml"), yaml.toString(), StandardCharsets.UTF_8);
        Files.copy(FlinkConfigFiles.shippedDir().resolve("log4j2.properties"), conf.resolve("log4j.properties"));
    }

    void startJobManager() {
        List<String> command = jvm("jobmanager", "GET_JM_RESOURCE_PARAMS", "env.java.opts.jobmanager");
        command.add("org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint");
        command.addAll(List.of("--configDir", conf.toString()));
        command.addAll(dynamicProperties("GET_JM_RESOURCE_PARAMS"));
        processes.start("jobmanager", command, Map.of("FLINK_CONF_DIR", conf.toString()));
    }

    /** Starts TaskManager {@code name}; returns once the JobManager counts {@code expectedTaskManagers}. */
    void startTaskManager(String name, int expectedTaskManagers) {
        List<String> command = jvm(name, "GET_TM_RESOURCE_PARAMS", "env.java.opts.taskmanager");
        command.add("org.apache.flink.runtime.taskexecutor.TaskManagerRunner");
        command.addAll(List.of("--configDir", conf.toString()));
        command.addAll(dynamicProperties("GET_TM_RESOURCE_PARAMS"));
        // The REST API then names it as we do.
        command.addAll(List.of("-D", "taskmanager.resource-id=" + name));
        taskManagers.put(name, processes.start(name, command, Map.of("FLINK_CONF_DIR", conf.toString())));
        await(expectedTaskManagers + " TaskManagers registered").atMost(Duration.ofMinutes(5))
                .pollInterval(Duration.ofMillis(500))
                .until(() -> get("/taskmanagers").map(j -> j.path("taskmanagers").size()).orElse(0) >= expectedTaskManagers);
    }

    /** The TaskManager with the most slots in use (by the running job). */
    String busiestTaskManager() {
        String busiest = null;
        int mostUsed = 0;
        for (JsonNode tm : get("/taskmanagers").map(j -> j.path("taskmanagers")).orElseThrow()) {
            int used = tm.path("slotsNumber").asInt() - tm.path("freeSlots").asInt();
            if (used > mostUsed && taskManagers.containsKey(tm.path("id").asText())) {
                busiest = tm.path("id").asText();
                mostUsed = used;
            }
        }
        if (busiest == null) {
            throw new IllegalStateException("no TaskManager of ours runs a task: " + get("/taskmanagers"));
        }
        return busiest;
    }

    /** SIGKILL: no shutdown hook, no goodbye to the JobManager. */
    void killTaskManager(String name) throws InterruptedException {
        Process process = taskManagers.remove(name);
        process.destroyForcibly();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            throw new IllegalStateException(name + " survived SIGKILL");
        }
    }

    private List<String> jvm(String logName, String resourceCommand, String javaOptsKey) {
        List<String> command = new ArrayList<>();
        command.add(ChildProcesses.java());
        command.addAll(Arrays.asList(System.getProperty("stagewise.jvm.opens", "").trim().split("\\s+")));
        command.addAll(Arrays.asList(bashJavaUtils(resourceCommand).get(0).trim().split("\\s+")));
        for (String key : List.of("env.java.opts.all", javaOptsKey)) {
            String opts = settings.getOrDefault(key, "").trim();
            if (!opts.isEmpty()) {
                command.addAll(Arrays.asList(opts.split("\\s+")));
            }
        }
        command.add("-Dlog.file=" + home.resolve("log").resolve(logName + ".log"));
        command.add("-Dlog4j.configurationFile=" + conf.resolve("log4j.properties").toUri());
        command.add("-cp");
        command.add(lib + File.separator + "*");
        return command;
    }

    private List<String> dynamicProperties(String resourceCommand) {
        List<String> lines = bashJavaUtils(resourceCommand);
        return lines.size() < 2 ? List.of() : Arrays.asList(lines.get(1).trim().split("\\s+"));
    }

    /** The JVM flags (first line) and {@code -D} settings (second line) Flink's scripts would use. */
    private List<String> bashJavaUtils(String resourceCommand) {
        CliResult result = java(List.of("-cp", lib + File.separator + "*",
                "org.apache.flink.runtime.util.bash.BashJavaUtils", resourceCommand, "--configDir", conf.toString()),
                "bash-java-utils-" + (++cliRuns), Duration.ofMinutes(3));
        List<String> lines = result.output().lines().filter(l -> l.startsWith(BASH_JAVA_UTILS_PREFIX))
                .map(l -> l.substring(BASH_JAVA_UTILS_PREFIX.length())).collect(Collectors.toList());
        if (result.exitCode() != 0 || lines.isEmpty()) {
            throw new IllegalStateException("BashJavaUtils " + resourceCommand + " failed: " + result.output());
        }
        return lines;
    }

    /** {@code flink run -d [-s savepoint] -p N -c <entry class> <jar> <args>}; returns the job id. */
    String run(Path jar, String entryClass, int parallelism, String savepoint, List<String> args) {
        List<String> cli = new ArrayList<>(List.of("run", "-d", "-p", Integer.toString(parallelism)));
        if (savepoint != null) {
            cli.addAll(List.of("-s", savepoint));
        }
        cli.addAll(List.of("-c", entryClass, jar.toString()));
        cli.addAll(args);
        CliResult result = cli(cli);
        Matcher id = JOB_ID.matcher(result.output());
        if (result.exitCode() != 0 || !id.find()) {
            throw new IllegalStateException("flink run failed (exit " + result.exitCode() + "):\n" + result.output());
        }
        return id.group(1);
    }

    /** {@code flink stop --savepointPath <dir> <job>}; returns the savepoint's path. */
    String stopWithSavepoint(String jobId, Path savepointDir) {
        CliResult result = cli(List.of("stop", "--savepointPath", savepointDir.toUri().toString(), jobId));
        Matcher path = SAVEPOINT.matcher(result.output());
        if (result.exitCode() != 0 || !path.find()) {
            throw new IllegalStateException("flink stop failed (exit " + result.exitCode() + "):\n" + result.output());
        }
        return path.group(1);
    }

    private CliResult cli(List<String> cliArgs) {
        List<String> command = new ArrayList<>(Arrays.asList(System.getProperty("stagewise.jvm.opens", "").trim().split("\\s+")));
        String name = "cli-" + (++cliRuns);
        command.add("-Dlog.file=" + home.resolve("log").resolve(name + ".log"));
        command.add("-Dlog4j.configurationFile=" + conf.resolve("log4j.properties").toUri());
        command.addAll(List.of("-cp", lib + File.separator + "*", "org.apache.flink.client.cli.CliFrontend"));
        command.addAll(cliArgs);
        return java(command, name, Duration.ofMinutes(5));
    }

    record CliResult(int exitCode, String output) {}

    private CliResult java(List<String> args, String name, Duration timeout) {
        List<String> command = new ArrayList<>();
        command.add(ChildProcesses.java());
        command.addAll(args);
        Process process = processes.start(name, command, Map.of("FLINK_CONF_DIR", conf.toString()));
        try {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                throw new IllegalStateException(name + " did not finish within " + timeout + ": " + command);
            }
            return new CliResult(process.exitValue(), Files.readString(processes.log(name).toPath()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted waiting for " + name, e);
        }
    }

    String jobState(String jobId) {
        return get("/jobs/" + jobId).map(j -> j.path("state").asText()).orElse("UNKNOWN");
    }

    /** The job and every one of its vertices are RUNNING (a job is RUNNING while its tasks still deploy). */
    boolean allTasksRunning(String jobId) {
        return get("/jobs/" + jobId).map(j -> {
            if (!j.path("state").asText().equals("RUNNING") || j.path("vertices").isEmpty()) {
                return false;
            }
            for (JsonNode vertex : j.path("vertices")) {
                if (!vertex.path("status").asText().equals("RUNNING")) {
                    return false;
                }
            }
            return true;
        }).orElse(false);
    }

    /** Parallelism of every vertex of the job. */
    List<Integer> vertexParallelism(String jobId) {
        List<Integer> parallelism = new ArrayList<>();
        get("/jobs/" + jobId).ifPresent(j -> j.path("vertices").forEach(v -> parallelism.add(v.path("parallelism").asInt())));
        return parallelism;
    }

    long restarts(String jobId) {
        return get("/jobs/" + jobId + "/metrics?get=numRestarts")
                .map(j -> j.isArray() && j.size() > 0 ? j.get(0).path("value").asLong() : 0L).orElse(0L);
    }

    /** Id of the latest completed checkpoint, or 0. */
    long latestCheckpoint(String jobId) {
        return get("/jobs/" + jobId + "/checkpoints").map(j -> j.path("latest").path("completed").path("id").asLong(0))
                .orElse(0L);
    }

    /** Exceptions the job saw (root causes of its restarts), for failure messages. */
    String exceptions(String jobId) {
        return get("/jobs/" + jobId + "/exceptions").map(JsonNode::toString).orElse("(none)");
    }

    Optional<JsonNode> get(String path) {
        try {
            HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(restUrl() + path))
                    .timeout(Duration.ofSeconds(5)).GET().build(), HttpResponse.BodyHandlers.ofString());
            return response.statusCode() == 200 ? Optional.of(JSON.readTree(response.body())) : Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        }
    }
}
