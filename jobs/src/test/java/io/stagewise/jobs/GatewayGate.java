package io.stagewise.jobs;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * A pass-through HTTP proxy in front of the reference gateway that holds chosen requests: the
 * first request of an idempotency key given to {@link #hold} waits, unanswered (a call in
 * flight), until the test calls {@link #release}, and is then answered as told: 503 before
 * executing, or forwarded. Everything else is forwarded as is. For tests that need calls in flight
 * at a chosen moment; the gateway's own fault policy covers everything else.
 */
final class GatewayGate implements AutoCloseable {
    /** What a held request gets once released. */
    enum Release { UNAVAILABLE, FORWARD }

    private final HttpServer server;
    private final ExecutorService threads = Executors.newCachedThreadPool();
    private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final String target;
    private final Map<String, CountDownLatch> held = new ConcurrentHashMap<>();
    private final Map<String, Release> releases = new ConcurrentHashMap<>();
    private final Map<String, CountDownLatch> arrived = new ConcurrentHashMap<>();
    private final Map<String, Integer> requests = new ConcurrentHashMap<>();

    GatewayGate(String target) throws IOException {
        this.target = target;
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/", this::handle);
        server.setExecutor(threads);
        server.start();
    }

    String url() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    /** Holds the first request of {@code idempotencyKey} until {@link #release}. */
    void hold(String idempotencyKey) {
        held.put(idempotencyKey, new CountDownLatch(1));
        arrived.put(idempotencyKey, new CountDownLatch(1));
    }

    /** True once the held request of {@code idempotencyKey} has arrived (and waits). */
    boolean arrived(String idempotencyKey) {
        return arrived.get(idempotencyKey).getCount() == 0;
    }

    /** Answers the held request of {@code idempotencyKey} as {@code how}. */
    void release(String idempotencyKey, Release how) {
        releases.put(idempotencyKey, how);
        held.get(idempotencyKey).countDown();
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            String key = exchange.getRequestHeaders().getFirst("Idempotency-Key");
            int number = key == null ? 0 : requests.merge(key, 1, Integer::sum);
            CountDownLatch gate = key == null ? null : held.get(key);
            if (gate != null && number == 1) {
                arrived.get(key).countDown();
                gate.await();
                if (releases.get(key) == Release.UNAVAILABLE) {
                    respond(exchange, 503, "{\"error\":{\"type\":\"service_unavailable\"}}".getBytes(StandardCharsets.UTF_8));
                    return;
                }
            }
            HttpRequest.Builder forward = HttpRequest.newBuilder(URI.create(target + exchange.getRequestURI()))
                    .timeout(Duration.ofSeconds(30))
                    .method(exchange.getRequestMethod(), HttpRequest.BodyPublishers.ofByteArray(exchange.getRequestBody().readAllBytes()));
            String contentType = exchange.getRequestHeaders().getFirst("Content-Type");
            if (contentType != null) {
                forward.header("Content-Type", contentType);
            }
            if (key != null) {
                forward.header("Idempotency-Key", key);
            }
            HttpResponse<byte[]> response = client.send(forward.build(), HttpResponse.BodyHandlers.ofByteArray());
            respond(exchange, response.statusCode(), response.body());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void respond(HttpExchange exchange, int status, byte[] body) throws IOException {
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.sendResponseHeaders(status, body.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
        }
    }

    /** Releases every held request unanswered-to-forwarded, then stops. */
    @Override
    public void close() throws InterruptedException {
        held.forEach((key, gate) -> {
            releases.putIfAbsent(key, Release.FORWARD);
            gate.countDown();
        });
        server.stop(0);
        threads.shutdownNow();
        threads.awaitTermination(10, TimeUnit.SECONDS);
    }
}
