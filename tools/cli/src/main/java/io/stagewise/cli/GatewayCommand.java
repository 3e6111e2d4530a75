package io.stagewise.cli;

import io.stagewise.jobs.flags.DurationConverter;
import io.stagewise.jobs.StagewiseException;
import io.stagewise.gateway.GatewayServer;
import io.stagewise.gateway.GatewaySettings;
import io.stagewise.gateway.internal.JdbcUrls;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code stagewise gateway}: the reference downstream payment gateway (docs/payments.md) on a
 * port, idempotency keys in an external PostgreSQL, with fault injection for the demo. Runs until
 * killed.
 */
@Command(name = "gateway", mixinStandardHelpOptions = true,
        description = "Run the reference payment gateway: Stripe-style idempotency keys in PostgreSQL, with injected faults.")
public final class GatewayCommand implements Callable<Integer> {
    @Option(names = "--port", defaultValue = "8090", description = "HTTP port, 0 for a free one (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--bind-address", defaultValue = "127.0.0.1", description = "Address to listen on (default: ${DEFAULT-VALUE}).")
    String bindAddress;

    @Option(names = "--jdbc-url", required = true,
            description = "PostgreSQL holding keys and charges, e.g. jdbc:postgresql://localhost:5432/stagewise. Tables gateway_* are created when absent.")
    String jdbcUrl;

    @Option(names = "--jdbc-user", defaultValue = "${env:STAGEWISE_JDBC_USER}",
            description = "PostgreSQL user (default: env STAGEWISE_JDBC_USER, else the URL's).")
    String jdbcUser;

    @Option(names = "--jdbc-password", defaultValue = "${env:STAGEWISE_JDBC_PASSWORD}",
            description = "PostgreSQL password (default: env STAGEWISE_JDBC_PASSWORD, else the URL's). Prefer the environment: flags show in ps.")
    String jdbcPassword;

    @Option(names = "--transient-failure-rate", defaultValue = "0",
            description = "Share of POSTs answered 503 before executing, in [0,1] (default: ${DEFAULT-VALUE}).")
    double transientFailureRate;

    @Option(names = "--timeout-rate", defaultValue = "0",
            description = "Share of POSTs that execute but lose their response (the ambiguous ack), in [0,1] (default: ${DEFAULT-VALUE}).")
    double timeoutRate;

    @Option(names = "--latency", converter = DurationConverter.class,
            description = "Added to every POST before it is answered, e.g. 20ms (default: none).")
    Duration latency;

    @Option(names = "--item-latency", converter = DurationConverter.class,
            description = "Added per item to a POST /notifications/batch: a batch of n takes --latency + n x this (default: none).")
    Duration itemLatency;

    @Option(names = "--capacity", defaultValue = "0",
            description = "Items per second POST /notifications/batch takes; a batch over it gets 503 (0 = unlimited; default: ${DEFAULT-VALUE}).")
    long capacity;

    @Option(names = "--control",
            description = "Serve POST/GET /control/latency, which changes --latency, --item-latency and --capacity while running (tests, benchmarks).")
    boolean control;

    @Option(names = "--decline-accounts", split = ",", paramLabel = "ACCOUNT",
            description = "Accounts whose charges get a definitive 402 card_declined, e.g. acct-3,acct-9.")
    List<String> declineAccounts = new ArrayList<>();

    @Option(names = "--fault-seed", defaultValue = "42",
            description = "Seed of the fault decisions; the same seed injects the same faults (default: ${DEFAULT-VALUE}).")
    long faultSeed;

    @Option(names = "--threads", defaultValue = "" + GatewaySettings.DEFAULT_THREADS,
            description = "Request threads (default: ${DEFAULT-VALUE}).")
    int threads;

    @Override
    public Integer call() throws InterruptedException {
        GatewaySettings settings;
        try {
            settings = GatewaySettings.builder()
                    .bindAddress(bindAddress)
                    .port(port)
                    .threads(threads)
                    .randomFaults(transientFailureRate, timeoutRate, faultSeed)
                    .latency(latency != null ? latency : Duration.ZERO)
                    .itemLatency(itemLatency != null ? itemLatency : Duration.ZERO)
                    .capacityPerSecond(capacity)
                    .control(control)
                    .declineAccounts(declineAccounts)
                    .build();
        } catch (IllegalArgumentException e) {
            throw new StagewiseException("invalid gateway flags: " + e.getMessage(), e);
        }
        GatewayServer gateway = GatewayServer.start(settings, jdbcUrl, blankToNull(jdbcUser), blankToNull(jdbcPassword));
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            gateway.close();
            stopped.countDown();
        }, "gateway-shutdown"));

        System.out.printf("Stagewise gateway: %s%n", gateway.url());
        System.out.printf("Idempotency keys and charges in %s%n", JdbcUrls.redact(jdbcUrl));
        System.out.printf("Faults: %s; latency %s; declined accounts %s%n", settings.faults(),
                settings.latency().isZero() ? "none" : settings.latency().toMillis() + " ms",
                declineAccounts.isEmpty() ? "none" : String.join(",", declineAccounts));
        System.out.println("Ctrl-C to stop.");
        System.out.flush();
        stopped.await();
        return 0;
    }

    private static String blankToNull(String value) {
        return value == null || value.isBlank() ? null : value;
    }
}
