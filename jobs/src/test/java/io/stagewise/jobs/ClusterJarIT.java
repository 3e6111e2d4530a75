package io.stagewise.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Opens the cluster jar that {@code package} built ({@code jobs/target/stagewise-jobs-*-cluster.jar},
 * the jar of {@code flink run}) and checks that it holds the pipeline and what a Flink distribution
 * lacks, and nothing that would clash with the cluster's own classes or that belongs to the tools.
 *
 * <p>Run by maven-failsafe-plugin after {@code package} (see {@code jobs/pom.xml}): {@code mvn -B verify}.
 */
class ClusterJarIT {
    private static Path jar;
    private static List<String> entries;

    @BeforeAll
    static void openJar() throws IOException {
        Path target = Path.of(System.getProperty("stagewise.jobs.target", "target"));
        List<Path> found = new ArrayList<>();
        try (DirectoryStream<Path> jars = Files.newDirectoryStream(target, "stagewise-jobs-*-cluster.jar")) {
            jars.forEach(found::add);
        }
        assertThat(found).as("cluster jars in " + target.toAbsolutePath() + " (run mvn package first)").hasSize(1);
        jar = found.get(0);
        try (JarFile file = new JarFile(jar.toFile())) {
            entries = file.stream().map(JarEntry::getName).collect(Collectors.toList());
        }
    }

    @Test
    void holdsThePipelineAndWhatTheClusterLacks() {
        assertThat(entries).as(jar.toString()).contains(
                "io/stagewise/jobs/PipelineJob.class",
                "io/stagewise/jobs/RunCommand.class",
                "io/stagewise/jobs/payments/PaymentsWorkflow.class",
                "io/stagewise/operators/stage/StageOperator.class",
                "io/stagewise/operators/ingest/EventDeserializer.class",
                "io/stagewise/sinks/postgres/PostgresSink.class",
                "io/stagewise/sinks/kafka/ExactlyOnceKafkaSinks.class",
                "io/stagewise/savepoints/Checkpoints.class",
                "org/apache/flink/connector/kafka/sink/KafkaSink.class",
                "org/apache/flink/connector/kafka/source/KafkaSource.class",
                "org/apache/kafka/clients/producer/KafkaProducer.class",
                "org/postgresql/Driver.class",
                "com/fasterxml/jackson/databind/ObjectMapper.class",
                "picocli/CommandLine.class");
    }

    @Test
    void leavesOutTheToolsFlinkTheBrokerAndLoggingConfiguration() {
        List<String> forbiddenPrefixes = List.of(
                // the tools: gateway, test kit, launcher, benchmarks
                "io/stagewise/gateway/", "io/stagewise/testkit/", "io/stagewise/cli/", "io/stagewise/bench/",
                // Flink itself and RocksDB: the cluster has them
                "org/apache/flink/runtime/", "org/apache/flink/api/", "org/apache/flink/configuration/",
                "org/apache/flink/streaming/api/", "org/apache/flink/state/", "org/rocksdb/",
                // the Kafka broker (kafka-clients only brings kafka/kafka-version.properties under kafka/)
                "kafka/server/", "org/apache/kafka/raft/", "org/apache/kafka/controller/",
                // embedded PostgreSQL
                "io/zonky/",
                // logging: the cluster's own binding and configuration win
                "org/apache/logging/", "org/slf4j/");
        for (String prefix : forbiddenPrefixes) {
            assertThat(entries).as("entries under " + prefix + " in " + jar).noneMatch(e -> e.startsWith(prefix));
        }
        assertThat(entries).as("Kafka broker classes (kafka.*) in " + jar)
                .noneMatch(e -> e.startsWith("kafka/") && e.endsWith(".class"));
        assertThat(entries).as("logging configuration in " + jar)
                .noneMatch(e -> e.matches("(.*/)?log4j2?(-test)?\\.(properties|xml|yaml|yml|json)"));
    }

    @Test
    void startsThePipelineJob() throws IOException {
        try (JarFile file = new JarFile(jar.toFile())) {
            assertThat(file.getManifest().getMainAttributes().getValue(Attributes.Name.MAIN_CLASS))
                    .isEqualTo(PipelineJob.class.getName());
        }
    }
}
