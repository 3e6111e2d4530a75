package io.stagewise.jobs;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.stagewise.gateway.GatewayServer;
import io.stagewise.operators.stage.http.HttpStage;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A test-only HTTP proxy in front of the reference gateway whose added latency on one path can be
 * changed while a job runs (the gateway's own {@code --latency} is fixed at start). It records,
 * for each request on that path, how many requests on it were in flight when it arrived: with a
 * backlog, that is what the job's in-flight limits let through.
 */
final class LatencyProxy implements AutoCloseable {
    private final HttpServer server;
    private final ExecutorService threads = Executors.newCachedThreadPool();
    private final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    private final String target;
    private final String slowPath;
    private final AtomicLong latencyMillis = new AtomicLong();
    private final AtomicInteger inFlight = new AtomicInteger();
    /** Per request on the slow path, in arrival order: requests in flight on it, itself included. */
    private final List<Integer> concurrencyAtArrival = new CopyOnWriteArrayList<>();

    /** @param slowPath the path whose requests wait out the latency, e.g. {@code /charges} */
    LatencyProxy(String gatewayUrl, String slowPath) throws IOException {
        GatewayServer.enableNoDelay();
        this.target = gatewayUrl;
        this.slowPath = slowPath;
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/", this::forward);
        server.setExecutor(threads);
        server.start();
    }

    String url() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    void latency(Duration latency) {
        latencyMillis.set(latency.toMillis());
    }

    /** Requests on the slow path so far. */
    int requests() {
        return concurrencyAtArrival.size();
    }

    /** The slow path's concurrency at each arrival from index {@code from} on. */
    List<Integer> concurrencySince(int from) {
        List<Integer> all = List.copyOf(concurrencyAtArrival);
        return all.subList(Math.min(from, all.size()), all.size());
    }

    private void forward(HttpExchange exchange) throws IOException {
        String path = exchange.getRequestURI().getPath();
        boolean slow = path.equals(slowPath);
        try (exchange) {
            boolean counted = slow;
            if (slow) {
                concurrencyAtArrival.add(inFlight.incrementAndGet());
            }
            try {
                long latency = slow ? latencyMillis.get() : 0;
                if (latency > 0) {
                    Thread.sleep(latency);
                }
                HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(target + path))
                        .method(exchange.getRequestMethod(), HttpRequest.BodyPublishers.ofByteArray(
                                exchange.getRequestBody().readAllBytes()));
                for (String header : List.of("Content-Type", HttpStage.IDEMPOTENCY_KEY)) {
                    String value = exchange.getRequestHeaders().getFirst(header);
                    if (value != null) {
                        request.header(header, value);
                    }
                }
                HttpResponse<byte[]> response = client.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
                byte[] body = response.body();
                // Out of flight before the job can see the response: the job frees its slot when the response
                // arrives and may send the next call at once, which must not find this one still counted.
                counted = leave(counted);
                exchange.sendResponseHeaders(response.statusCode(), body.length == 0 ? -1 : body.length);
                try (OutputStream out = exchange.getResponseBody()) {
                    out.write(body);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                exchange.sendResponseHeaders(503, -1);
            } finally {
                leave(counted);
            }
        }
    }

    /** Takes a counted request out of flight once; returns false, the request's new counted state. */
    private boolean leave(boolean counted) {
        if (counted) {
            inFlight.decrementAndGet();
        }
        return false;
    }

    @Override
    public void close() {
        server.stop(0);
        threads.shutdownNow();
    }
}
