package io.stagewise.e2e;

import io.stagewise.gateway.GatewayServer;
import io.stagewise.gateway.GatewaySettings;
import io.stagewise.testkit.EmbeddedKafka;
import io.stagewise.testkit.EmbeddedPostgres;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

/**
 * Runs one service as its own process for the cluster suite, until killed:
 * {@code kafka <data dir> <ready file>}, {@code postgres <data dir> <ready file>} (the test kit's
 * broker and server) or {@code gateway <port> <ready file> <jdbc url> <transient-failure rate>
 * <timeout rate>} (the reference gateway with random faults). Once the service answers, its address
 * (bootstrap servers, the JDBC URL of database {@code e2e}, the gateway's URL) is written to the
 * ready file. SIGTERM stops it cleanly (PostgreSQL's server processes included).
 */
public final class ServiceMain {
    private ServiceMain() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 3) {
            throw new IllegalArgumentException("usage: ServiceMain kafka|postgres <data dir> <ready file>"
                    + " | gateway <port> <ready file> <jdbc url> <transient-failure rate> <timeout rate>");
        }
        Path readyFile = Path.of(args[2]);
        AutoCloseable service;
        String address;
        switch (args[0]) {
            case "gateway":
                GatewayServer gateway = GatewayServer.start(GatewaySettings.builder()
                        .port(Integer.parseInt(args[1]))
                        .randomFaults(Double.parseDouble(args[4]), Double.parseDouble(args[5]), 7)
                        .build(), args[3]);
                service = gateway;
                address = gateway.url();
                break;
            case "kafka":
                EmbeddedKafka kafka = EmbeddedKafka.start(Path.of(args[1]));
                service = kafka;
                address = kafka.bootstrapServers();
                break;
            case "postgres":
                EmbeddedPostgres postgres = EmbeddedPostgres.start(Path.of(args[1]));
                service = postgres;
                address = postgres.createDatabase("e2e");
                break;
            default:
                throw new IllegalArgumentException("unknown service '" + args[0] + "'; use kafka or postgres");
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                service.close();
            } catch (Exception e) {
                System.err.println("stopping " + args[0] + " failed: " + e);
            }
            stopped.countDown();
        }, "service-shutdown"));
        Path partial = readyFile.resolveSibling(readyFile.getFileName() + ".tmp");
        Files.writeString(partial, address, StandardCharsets.UTF_8);
        Files.move(partial, readyFile);
        System.out.println(args[0] + " ready: " + address);
        stopped.await();
    }
}
