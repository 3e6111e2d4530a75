package io.stagewise.gateway;

import com.sun.net.httpserver.HttpServer;
import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.stagewise.gateway.internal.ControlHandler;
import io.stagewise.gateway.internal.Effects;
import io.stagewise.gateway.internal.Endpoint;
import io.stagewise.gateway.internal.GatewayHandler;
import io.stagewise.gateway.internal.IdempotencyStore;
import io.stagewise.gateway.internal.JdbcUrls;
import io.stagewise.gateway.internal.LoadModel;
import io.stagewise.gateway.internal.RequestCounters;
import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The reference downstream payment gateway: a real HTTP server with Stripe-style idempotency keys
 * stored durably in PostgreSQL (docs/payments.md).
 *
 * <p>Guarantee: for every {@code Idempotency-Key}, at most one execution commits, and its effect
 * (one row in {@code gateway_charges} or {@code gateway_notifications}, or none for a decline)
 * commits in the same transaction as the stored response. Repeats with the same parameters get
 * that response replayed byte for byte (header {@code Idempotent-Replayed: true}); repeats with
 * other parameters get 422; repeats while the first executes get 409. This protects callers
 * against duplicate effects from retries after timeouts, lost responses and rollbacks, as long as
 * they reuse the key. It does not protect against two different keys for one payment: that is the
 * caller's contract (key = event id + stage).
 *
 * <p>HTTP contract, {@code application/json; charset=utf-8} everywhere:
 * <ul>
 *   <li>{@code POST /charges} {@code {"payment_id","account","amount","currency","merchant"}} (all
 *       strings, amount a positive decimal) -> 200 {@code {"charge_id":"ch_..","payment_id","account",
 *       "amount","currency"}}, or 402 {@code card_declined} (stored) for declined accounts.
 *   <li>{@code POST /notifications} {@code {"payment_id","account","charge_id"}} -> 200
 *       {@code {"notification_id":"nt_..","payment_id"}}.
 *   <li>Errors are {@code {"error":{"type","message"}}}: 400 {@code invalid_request} (missing key,
 *       bad body; not stored), 409 {@code idempotency_key_in_use}, 422 {@code idempotency_key_reused},
 *       500 {@code api_error} (key released), 503 {@code service_unavailable} (nothing recorded).
 *   <li>{@code GET /audit/charges} -> {@code {"<payment_id>": n}}; {@code GET /audit/requests?endpoint=
 *       charges|notifications} -> {@code {"<key>": requests received}}; {@code GET /health} -> 200.
 * </ul>
 *
 * <p>The JDK server writes header names in its own case ({@code Idempotent-replayed},
 * {@code Content-type}); HTTP header names are case-insensitive, so clients must compare them so.
 *
 * <p>Tables ({@code gateway_idempotency_keys}, {@code gateway_charges}, {@code gateway_notifications})
 * are created when absent; keys are never pruned.
 */
public final class GatewayServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(GatewayServer.class);

    /** Pending connections the kernel may queue while every request thread is busy. */
    private static final int ACCEPT_BACKLOG = 1024;
    /** Fail within seconds when PostgreSQL is unreachable, at start and per request. */
    private static final long DB_CONNECT_TIMEOUT_SECONDS = 5;

    private final HikariDataSource dataSource;
    private final IdempotencyStore store;
    private final RequestCounters counters;
    private final HttpServer server;
    private final ThreadPoolExecutor executor;
    private final LoadModel load;
    private final String url;
    private boolean closed;

    private GatewayServer(HikariDataSource dataSource, IdempotencyStore store, RequestCounters counters,
            HttpServer server, ThreadPoolExecutor executor, LoadModel load) {
        this.dataSource = dataSource;
        this.store = store;
        this.counters = counters;
        this.server = server;
        this.executor = executor;
        this.load = load;
        this.url = "http://" + urlHost(server.getAddress().getAddress()) + ":" + server.getAddress().getPort();
    }

    /** Starts a gateway on {@code jdbcUrl}, credentials (if any) inside the URL. */
    /** The JDK HTTP server's switch for TCP_NODELAY on accepted sockets. */
    public static final String NO_DELAY_PROPERTY = "sun.net.httpserver.nodelay";

    /**
     * The JDK's HTTP server (JDK 17) writes response headers and body in separate segments without
     * TCP_NODELAY, so every response waits for the client's delayed ACK: about 40 ms per request on
     * loopback (JDK-6968351). The property is read once, when the first server of the JVM starts;
     * an explicit -D setting wins.
     */
    public static void enableNoDelay() {
        if (System.getProperty(NO_DELAY_PROPERTY) == null) {
            System.setProperty(NO_DELAY_PROPERTY, "true");
        }
    }

    public static GatewayServer start(GatewaySettings settings, String jdbcUrl) {
        return start(settings, jdbcUrl, null, null);
    }

    /**
     * Starts a gateway: connects to PostgreSQL, creates the tables when absent, then listens.
     *
     * @param user PostgreSQL user, or null to take it from the URL
     * @param password PostgreSQL password, or null to take it from the URL; never logged
     * @throws GatewayException if PostgreSQL cannot be reached within seconds (the message names
     *     the URL without its password) or the port cannot be bound
     */
    public static GatewayServer start(GatewaySettings settings, String jdbcUrl, String user, String password) {
        if (jdbcUrl == null || !jdbcUrl.startsWith("jdbc:postgresql:")) {
            throw new GatewayException("the gateway needs a PostgreSQL JDBC URL (jdbc:postgresql://host:port/db),"
                    + " got " + JdbcUrls.redact(jdbcUrl));
        }
        String safeUrl = JdbcUrls.redact(jdbcUrl);
        HikariDataSource dataSource = connect(settings, jdbcUrl, user, password, safeUrl);
        HttpServer server = null;
        ThreadPoolExecutor executor = null;
        try {
            IdempotencyStore store = new IdempotencyStore(dataSource, settings.staleExecutionTimeout());
            try {
                store.createTables();
            } catch (SQLException e) {
                throw new GatewayException("cannot create the gateway tables in " + safeUrl + ": " + e.getMessage(), e);
            }
            RequestCounters counters = new RequestCounters();
            enableNoDelay();
            try {
                server = HttpServer.create(new InetSocketAddress(settings.bindAddress(), settings.port()), ACCEPT_BACKLOG);
            } catch (IOException e) {
                throw new GatewayException("the gateway cannot listen on " + settings.bindAddress() + ":"
                        + settings.port() + " (in use? try another --port): " + e.getMessage(), e);
            }
            executor = requestExecutor(settings.threads());
            server.setExecutor(executor);
            LoadModel load = new LoadModel(settings.latency(), settings.itemLatency(), settings.capacityPerSecond());
            server.createContext("/", new GatewayHandler(store, new Effects(settings.declineAccounts()), counters,
                    settings.faults(), load, settings.executionHook()));
            if (settings.control()) {
                server.createContext(ControlHandler.PATH, new ControlHandler(load));
            }
            server.start();
            GatewayServer gateway = new GatewayServer(dataSource, store, counters, server, executor, load);
            LOG.info("Gateway listening on {} (keys in {}; {})", gateway.url(), safeUrl, settings);
            return gateway;
        } catch (RuntimeException e) {
            if (server != null) {
                server.stop(0);
            }
            if (executor != null) {
                executor.shutdownNow();
            }
            dataSource.close();
            throw e;
        }
    }

    private static HikariDataSource connect(GatewaySettings settings, String jdbcUrl, String user, String password,
            String safeUrl) {
        HikariConfig config = new HikariConfig();
        config.setPoolName("stagewise-gateway");
        config.setJdbcUrl(jdbcUrl);
        if (user != null) {
            config.setUsername(user);
        }
        if (password != null) {
            config.setPassword(password);
        }
        config.setMaximumPoolSize(settings.maxDbConnections());
        config.setMinimumIdle(Math.min(2, settings.maxDbConnections()));
        config.setConnectionTimeout(TimeUnit.SECONDS.toMillis(DB_CONNECT_TIMEOUT_SECONDS));
        // One attempt at start, bounded by connectTimeout: a wrong URL fails now, not after retries.
        config.setInitializationFailTimeout(1);
        // Driver defaults, overridden by the same parameters in the URL.
        config.addDataSourceProperty("connectTimeout", Long.toString(DB_CONNECT_TIMEOUT_SECONDS));
        config.addDataSourceProperty("socketTimeout", "60");
        config.addDataSourceProperty("tcpKeepAlive", "true");
        config.addDataSourceProperty("ApplicationName", "stagewise-gateway");
        try {
            return new HikariDataSource(config);
        } catch (RuntimeException e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            throw new GatewayException("cannot reach PostgreSQL at " + safeUrl + " within "
                    + DB_CONNECT_TIMEOUT_SECONDS + " s: " + cause.getMessage(), e);
        }
    }

    /**
     * Bounded threads, bounded queue. When both are full the accepting thread runs the request
     * itself, which stops it accepting more: backpressure rather than dropped connections.
     */
    private static ThreadPoolExecutor requestExecutor(int threads) {
        AtomicInteger number = new AtomicInteger();
        ThreadFactory factory = runnable -> {
            Thread thread = new Thread(runnable, "gateway-http-" + number.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        };
        ThreadPoolExecutor executor = new ThreadPoolExecutor(threads, threads, 30, TimeUnit.SECONDS,
                new ArrayBlockingQueue<>(4 * threads), factory, new ThreadPoolExecutor.CallerRunsPolicy());
        executor.allowCoreThreadTimeOut(true);
        return executor;
    }

    private static String urlHost(InetAddress address) {
        if (address.isAnyLocalAddress()) {
            return "127.0.0.1";
        }
        String host = address.getHostAddress();
        return address instanceof Inet6Address ? "[" + host + "]" : host;
    }

    /** Base URL, e.g. {@code http://127.0.0.1:8090}, without a trailing slash. */
    public String url() {
        return url;
    }

    /** The bound port (the free one picked when the settings said 0). */
    public int port() {
        return server.getAddress().getPort();
    }

    /** Committed charges per payment id, read from PostgreSQL, sorted by payment id. */
    public Map<String, Integer> effectiveCharges() {
        try {
            return store.effectiveCharges();
        } catch (SQLException e) {
            throw new IllegalStateException("cannot read " + IdempotencyStore.CHARGES_TABLE + ": " + e.getMessage(), e);
        }
    }

    /** Committed notifications per payment id, read from PostgreSQL, sorted by payment id. */
    public Map<String, Integer> effectiveNotifications() {
        try {
            return store.effectiveNotifications();
        } catch (SQLException e) {
            throw new IllegalStateException("cannot read " + IdempotencyStore.NOTIFICATIONS_TABLE + ": " + e.getMessage(), e);
        }
    }

    /**
     * HTTP requests received since start, per idempotency key, sorted by key.
     *
     * @param endpoint {@code charges} or {@code notifications}
     */
    public Map<String, Integer> requestCounts(String endpoint) {
        return counters.snapshot(Endpoint.byId(endpoint).orElseThrow(() -> new IllegalArgumentException(
                "endpoint must be charges or notifications, got " + endpoint)));
    }

    /**
     * Items {@code POST /notifications/batch} refused over its capacity within a second (the
     * bucket's refill time) of its first refusal: the first overload.
     */
    public long firstOverloadRefusedItems() {
        return load.firstOverloadItems();
    }

    /**
     * The median time {@code POST /notifications/batch} took, receipt to response, over the last
     * 1,000 batches it executed (refused ones not counted); 0 if none.
     */
    public double batchMedianMillis() {
        return load.served().medianMicros() / 1000.0;
    }

    /**
     * Changes how slow the gateway is and how much the batch endpoint takes, at once (what
     * {@code POST /control/latency} does over HTTP): the latency added to every request, the cost of
     * each batch item, the batch capacity in items per second (0 = unlimited).
     */
    public void setLoad(Duration latency, Duration itemLatency, long capacityPerSecond) {
        load.set(latency, itemLatency, capacityPerSecond);
    }

    /**
     * Steps the per-item cost of {@code POST /notifications/batch} to {@code itemLatency} from the
     * batch that finds {@code afterItems} batch items already admitted on (retries count).
     */
    public void stepItemLatencyAfter(long afterItems, Duration itemLatency) {
        load.stepItemLatencyAfter(afterItems, itemLatency);
    }

    /** Stops listening, interrupts requests in flight (their transactions roll back), closes the pool. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        server.stop(0);
        executor.shutdownNow();
        try {
            if (!executor.awaitTermination(10, TimeUnit.SECONDS)) {
                LOG.warn("Gateway {}: request threads still running after 10 s; closing the pool anyway", url);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        dataSource.close();
        LOG.info("Gateway {} stopped", url);
    }
}
