package io.stagewise.e2e;

import io.stagewise.gateway.Fault;
import io.stagewise.gateway.FaultPolicy;
import io.stagewise.gateway.GatewayServer;
import io.stagewise.gateway.GatewaySettings;
import io.stagewise.testkit.EmbeddedKafka;
import io.stagewise.testkit.EmbeddedPostgres;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.CountDownLatch;

/**
 * Runs one service as its own process for the cluster suite, until killed:
 * {@code kafka <data dir> <ready file>}, {@code postgres <data dir> <ready file>} (the test kit's
 * broker and server) or {@code gateway <port> <ready file> <jdbc url> <transient-failure rate>
 * <timeout rate> [<failing ids file> <failures>]} (the reference gateway with random faults; the
 * charges of the event ids listed in the file, one a line, are also answered 503 for their first
 * {@code failures} requests). Once the service answers, its address
 * (bootstrap servers, the JDBC URL of database {@code e2e}, the gateway's URL) is written to the
 * ready file. SIGTERM stops it cleanly (PostgreSQL's server processes included).
 */
public final class ServiceMain {
    private ServiceMain() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 3) {
            throw new IllegalArgumentException("usage: ServiceMain kafka|postgres <data dir> <ready file>"
                    + " | gateway <port> <ready file> <jdbc url> <transient-failure rate> <timeout rate>"
                    + " [<failing ids file> <failures>]");
        }
        Path readyFile = Path.of(args[2]);
        AutoCloseable service;
        String address;
        switch (args[0]) {
            case "gateway":
                FaultPolicy faults = FaultPolicy.random(Double.parseDouble(args[4]), Double.parseDouble(args[5]), 7);
                if (args.length > 7) {
                    Set<String> failing = Set.copyOf(Files.readAllLines(Path.of(args[6]), StandardCharsets.UTF_8));
                    faults = FaultPolicy.firstRequests("charges", key -> failing.contains(key.replace(":charge", "")),
                            Integer.parseInt(args[7]), Fault.TRANSIENT).orElse(faults);
                }
                GatewayServer gateway = GatewayServer.start(GatewaySettings.builder()
                        .port(Integer.parseInt(args[1]))
                        .faults(faults)
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
