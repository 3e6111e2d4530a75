package io.stagewise.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.stagewise.jobs.Topics;
import io.stagewise.testkit.EmbeddedKafka;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code stagewise reconcile} as a user runs it, on a real broker and an in-process Flink: the
 * report, {@code --json} as the last line, {@code --html}, and the exit code (1 on a discrepancy).
 * The full classes are tested in the jobs module's ReconcileITCase.
 */
class ReconcileCommandITCase {
    @TempDir
    static Path tmp;

    private static EmbeddedKafka kafka;

    @BeforeAll
    static void start() {
        kafka = EmbeddedKafka.start(tmp.resolve("kafka"));
        Topics.createAll(kafka.bootstrapServers(), 2, List.of("orders", "orders.completed", "orders.dlq"));
    }

    @AfterAll
    static void stop() {
        kafka.close();
    }

    @Test
    void anInputIdFoundNowhereIsMissingInTextJsonAndHtml() throws Exception {
        Properties props = new Properties();
        props.setProperty(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer())) {
            producer.send(new ProducerRecord<>("orders", "k".getBytes(StandardCharsets.UTF_8),
                    "{\"id\":\"o-1\",\"type\":\"order.placed\",\"payload\":{}}".getBytes(StandardCharsets.UTF_8))).get();
            producer.send(new ProducerRecord<>("orders", "k".getBytes(StandardCharsets.UTF_8),
                    "not json".getBytes(StandardCharsets.UTF_8))).get();
        }
        Path html = tmp.resolve("reconcile.html");

        CliRun run = CliRun.stagewise("reconcile", "--bootstrap-servers", kafka.bootstrapServers(), "--input-topic", "orders",
                "--output-topic", "orders.completed", "--settle", "1ms", "--parallelism", "1", "--json",
                "--html", html.toString(), "--run-id", "cli-1");

        assertThat(run.exitCode()).as(run.out() + run.err()).isEqualTo(1);
        assertThat(run.out()).contains("MISSING").contains("o-1: input 1, output 0, dlq 0");
        String[] lines = run.out().trim().split("\n");
        JsonNode json = new ObjectMapper().readTree(lines[lines.length - 1]);
        assertThat(json.path("runId").asText()).isEqualTo("cli-1");
        assertThat(json.path("counts").path("MISSING").asLong()).isEqualTo(1);
        assertThat(json.path("counts").path("completed").asLong()).isZero();
        assertThat(json.path("watermark").path("endOffsets").path("orders").size()).isEqualTo(2);
        assertThat(Files.readString(html)).contains("<h2>MISSING (1)</h2>").contains("o-1");
    }
}
