package io.stagewise.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.stagewise.jobs.PipelineJob;
import io.stagewise.jobs.RunCommand;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * {@code flink-conf/flink-deployment.yaml}, the Kubernetes Operator example, stays runnable: its
 * args are accepted by the job's own flag parser, it runs the pipeline's entry class, and it
 * carries the shipped config.yaml's values rather than the suite's test values.
 */
class FlinkDeploymentTest {
    private final JsonNode deployment = FlinkConfigFiles.read(FlinkConfigFiles.shippedDir().resolve("flink-deployment.yaml"));
    private final Map<String, String> flinkConfiguration = FlinkConfigFiles.flatten(deployment.at("/spec/flinkConfiguration"));

    @Test
    void isAFlinkDeploymentOfThePipeline() {
        assertThat(deployment.path("apiVersion").asText()).isEqualTo("flink.apache.org/v1beta1");
        assertThat(deployment.path("kind").asText()).isEqualTo("FlinkDeployment");
        assertThat(deployment.at("/spec/job/entryClass").asText()).isEqualTo(PipelineJob.class.getName());
        assertThat(deployment.at("/spec/job/jarURI").asText()).endsWith("-cluster.jar");
        assertThat(deployment.at("/spec/job/upgradeMode").asText()).isEqualTo("savepoint");
    }

    @Test
    void argsAreAcceptedByTheJobsFlagParser() {
        List<String> args = new ArrayList<>();
        deployment.at("/spec/job/args").forEach(arg -> args.add(arg.asText()));
        assertThat(args).isNotEmpty();

        CommandLine.ParseResult parsed = new CommandLine(new RunCommand()).parseArgs(args.toArray(String[]::new));

        assertThat(parsed.unmatched()).isEmpty();
        assertThat(parsed.matchedOptionValue("--bootstrap-servers", "")).isNotBlank();
        assertThat(parsed.hasMatchedOption("--jdbc-password")).as("secrets never in args (they show in logs)").isFalse();
    }

    @Test
    void setsNoTestHeartbeatsAndAgreesWithConfigYaml() {
        assertThat(flinkConfiguration.keySet()).as("heartbeats stay at Flink's defaults")
                .noneMatch(key -> key.startsWith("heartbeat."));
        Map<String, String> shipped = FlinkConfigFiles.flatten(FlinkConfigFiles.read(FlinkConfigFiles.shippedDir().resolve("config.yaml")));
        shipped.forEach((key, value) -> {
            if (flinkConfiguration.containsKey(key) && !key.endsWith("-dir") && !key.endsWith(".dir")) {
                assertThat(flinkConfiguration.get(key)).as("%s in flink-deployment.yaml vs config.yaml", key).isEqualTo(value);
            }
        });
        assertThat(flinkConfiguration).containsKeys("pipeline.max-parallelism", "execution.checkpointing.timeout",
                "execution.checkpointing.dir");
    }
}
