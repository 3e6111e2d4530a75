package io.stagewise.jobs;

import io.stagewise.jobs.flags.FlagBindings;
import io.stagewise.jobs.flags.PipelineFlags;
import java.util.concurrent.Callable;
import org.apache.flink.annotation.Internal;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code stagewise run}: the pipeline job against an external Kafka, on a Flink mini cluster in this
 * process with the dashboard. {@code flink run -c io.stagewise.jobs.PipelineJob} takes the same
 * flags ({@link PipelineFlags}) on a cluster.
 */
@Internal
@Command(name = "run", mixinStandardHelpOptions = true, defaultValueProvider = FlagBindings.class,
        description = "Run the pipeline job against an external Kafka broker.")
public final class RunCommand implements Callable<Integer> {
    @Mixin
    PipelineFlags flags = new PipelineFlags();

    @Option(names = "--dashboard-port", defaultValue = "8081", description = "Port of the Flink dashboard, local runs only (default: ${DEFAULT-VALUE}).")
    int dashboardPort;

    @Option(names = "--prometheus-port", description = "Expose every metric at http://127.0.0.1:PORT/metrics for Prometheus, local runs only (default: off; on a cluster see flink-conf/config.yaml).")
    Integer prometheusPort;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PipelineLaunch.local(flags, spec.commandLine().getParseResult(), dashboardPort).withPrometheus(prometheusPort).run();
        return 0;
    }
}
