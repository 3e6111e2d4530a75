package io.stagewise.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.logging.log4j.Logger;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.config.Configurator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code flink-conf/log4j2.properties} as log4j loads it on a cluster: the two known metric-name
 * collisions of Flink 2.2.1 are dropped, any other collision and every other warning still shows.
 */
class ShippedLoggingTest {

    @Test
    void onlyTheKnownHarmlessMetricCollisionsAreDropped(@TempDir Path dir) throws Exception {
        Path logFile = dir.resolve("jobmanager.log");
        String previous = System.setProperty("log.file", logFile.toString());
        try (LoggerContext context = Configurator.initialize("shipped", null,
                FlinkConfigFiles.shippedDir().resolve("log4j2.properties").toUri())) {
            // The logger Flink's AbstractMetricGroup writes to.
            Logger metrics = context.getLogger("org.apache.flink.metrics.MetricGroup");
            metrics.warn("Name collision: Group already contains a Metric with the name 'pendingCommittables'."
                    + " Metric will not be reported.[a, b]");
            metrics.warn("Name collision: Group already contains a Metric with the name 'currentSendTime'."
                    + " Metric will not be reported.[a, b]");
            metrics.warn("Name collision: Group already contains a Metric with the name 'completed'."
                    + " Metric will not be reported.[a, b]");
            metrics.warn("some other metric warning");
        } finally {
            if (previous == null) {
                System.clearProperty("log.file");
            } else {
                System.setProperty("log.file", previous);
            }
        }
        String log = Files.readString(logFile);
        assertThat(log).doesNotContain("'pendingCommittables'").doesNotContain("'currentSendTime'")
                .contains("name 'completed'").contains("some other metric warning");
    }
}
