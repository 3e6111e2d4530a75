package io.stagewise.testkit;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import kafka.tools.StorageTool;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.utils.Time;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real single-node Kafka broker (KRaft, broker and controller in one), started in this JVM on
 * free loopback ports. Used by the tests and the demo; {@link #stop()} and {@link #start()} restart
 * it on the same ports and data, so tests can restart the broker under a running job.
 *
 * <p>The log directory is formatted with {@code transaction.version=1}: under version 2, Flink's
 * Kafka committer logs a false "producer is already fenced ... data loss" error on every recovery
 * when it re-commits a transaction that was in fact committed (apache/flink-connector-kafka#321).
 */
public final class EmbeddedKafka implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedKafka.class);

    private final Path dataDir;
    private final int brokerPort;
    private final int controllerPort;
    private final Properties props;
    private KafkaRaftServer server;

    private EmbeddedKafka(Path dataDir) {
        this.dataDir = dataDir;
        this.brokerPort = FreePorts.pick();
        this.controllerPort = FreePorts.pick();
        this.props = serverProperties();
    }

    /** Formats a new log directory under {@code dataDir} and starts the broker; ready on return. */
    public static EmbeddedKafka start(Path dataDir) {
        EmbeddedKafka kafka = new EmbeddedKafka(dataDir);
        kafka.format();
        kafka.start();
        return kafka;
    }

    public String bootstrapServers() {
        return "127.0.0.1:" + brokerPort;
    }

    /** Starts (or restarts) the broker on its data and ports; returns once it answers. */
    public synchronized void start() {
        if (server != null) {
            return;
        }
        long started = System.nanoTime();
        try {
            server = new KafkaRaftServer(KafkaConfig.fromProps(props, false), Time.SYSTEM);
            server.startup();
        } catch (RuntimeException e) {
            server = null;
            throw new IllegalStateException("the embedded Kafka broker did not start on "
                    + bootstrapServers() + " (data in " + dataDir + "): " + e.getMessage(), e);
        }
        awaitReady(Duration.ofSeconds(60));
        LOG.info("Embedded Kafka broker up on {} in {} ms", bootstrapServers(),
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
    }

    /** Stops the broker, keeping its data, as a crash-free shutdown would. */
    public synchronized void stop() {
        if (server == null) {
            return;
        }
        server.shutdown();
        server.awaitShutdown();
        server = null;
    }

    @Override
    public void close() {
        stop();
    }

    private Properties serverProperties() {
        Properties p = new Properties();
        p.setProperty("process.roles", "broker,controller");
        p.setProperty("node.id", "1");
        p.setProperty("controller.quorum.voters", "1@127.0.0.1:" + controllerPort);
        p.setProperty("listeners", "PLAINTEXT://127.0.0.1:" + brokerPort + ",CONTROLLER://127.0.0.1:" + controllerPort);
        p.setProperty("advertised.listeners", "PLAINTEXT://127.0.0.1:" + brokerPort);
        p.setProperty("controller.listener.names", "CONTROLLER");
        p.setProperty("inter.broker.listener.name", "PLAINTEXT");
        p.setProperty("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
        p.setProperty("log.dirs", dataDir.resolve("kafka-logs").toString());
        p.setProperty("offsets.topic.replication.factor", "1");
        p.setProperty("offsets.topic.num.partitions", "4");
        p.setProperty("transaction.state.log.replication.factor", "1");
        p.setProperty("transaction.state.log.min.isr", "1");
        p.setProperty("transaction.state.log.num.partitions", "4");
        p.setProperty("share.coordinator.state.topic.replication.factor", "1");
        p.setProperty("share.coordinator.state.topic.min.isr", "1");
        p.setProperty("group.initial.rebalance.delay.ms", "0");
        p.setProperty("auto.create.topics.enable", "false");
        p.setProperty("num.partitions", "1");
        return p;
    }

    private void format() {
        try {
            Files.createDirectories(dataDir);
            Path config = dataDir.resolve("server.properties");
            try (var out = Files.newBufferedWriter(config)) {
                props.store(out, "stagewise embedded broker");
            }
            ByteArrayOutputStream output = new ByteArrayOutputStream();
            int rc = StorageTool.execute(new String[] {
                "format", "-t", Uuid.randomUuid().toString(), "-c", config.toString(),
                "--feature", "transaction.version=1"
            }, new PrintStream(output, true, StandardCharsets.UTF_8));
            if (rc != 0) {
                throw new IllegalStateException("formatting the embedded Kafka log directory failed: "
                        + output.toString(StandardCharsets.UTF_8));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot prepare the Kafka data directory " + dataDir, e);
        }
    }

    private void awaitReady(Duration timeout) {
        Properties admin = new Properties();
        admin.setProperty(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers());
        long deadline = System.nanoTime() + timeout.toNanos();
        try (Admin client = Admin.create(admin)) {
            while (true) {
                try {
                    if (!client.describeCluster().nodes().get(5, TimeUnit.SECONDS).isEmpty()) {
                        return;
                    }
                } catch (Exception e) {
                    if (System.nanoTime() > deadline) {
                        throw new IllegalStateException("the embedded Kafka broker on " + bootstrapServers()
                                + " did not answer within " + timeout.toSeconds() + " s", e);
                    }
                }
            }
        }
    }
}
