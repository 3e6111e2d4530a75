package io.stagewise.gateway.internal;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code /control/latency}, for tests and benchmarks only (served when the gateway is started with
 * control on): {@code GET} returns the {@link LoadModel}; {@code POST} with any of
 * {@code {"latency_ms": 5, "item_latency_ms": 0.5, "capacity_per_second": 2000}} changes it at once
 * (fields left out keep their value; capacity 0 = unlimited). It changes no stored response and no
 * idempotency key: only how slow the gateway is and how much it takes.
 */
public final class ControlHandler implements HttpHandler {
    private static final Logger LOG = LoggerFactory.getLogger(ControlHandler.class);
    public static final String PATH = "/control/latency";

    private final LoadModel load;

    public ControlHandler(LoadModel load) {
        this.load = load;
    }

    @Override
    public void handle(HttpExchange exchange) throws IOException {
        try {
            int status;
            byte[] body;
            if (!exchange.getRequestURI().getPath().equals(PATH)) {
                status = 404;
                body = Json.error("invalid_request", "no such endpoint: " + exchange.getRequestURI().getPath());
            } else if (exchange.getRequestMethod().equals("GET")) {
                status = 200;
                body = Json.bytes(load.toJson());
            } else if (exchange.getRequestMethod().equals("POST")) {
                byte[] request;
                try (InputStream in = exchange.getRequestBody()) {
                    request = in.readNBytes(4096);
                }
                String problem = apply(request);
                status = problem == null ? 200 : 400;
                body = problem == null ? Json.bytes(load.toJson()) : Json.error("invalid_request", problem);
            } else {
                exchange.getResponseHeaders().set("Allow", "GET, POST");
                status = 405;
                body = Json.error("invalid_request", "use GET or POST on " + PATH);
            }
            exchange.getResponseHeaders().set("Content-Type", "application/json; charset=utf-8");
            exchange.sendResponseHeaders(status, body.length);
            exchange.getResponseBody().write(body);
        } finally {
            exchange.close();
        }
    }

    private String apply(byte[] request) {
        JsonNode json;
        try {
            json = Json.MAPPER.readTree(request);
        } catch (JacksonException e) {
            return "the body is not valid JSON: " + e.getOriginalMessage();
        } catch (IOException e) {
            return "the body cannot be read: " + e.getMessage();
        }
        if (json == null || !json.isObject()) {
            return "the body must be a JSON object";
        }
        synchronized (load) {
            double latency = json.path("latency_ms").asDouble(load.requestLatency().toNanos() / 1e6);
            double item = json.path("item_latency_ms").asDouble(load.itemLatency().toNanos() / 1e6);
            long capacity = json.path("capacity_per_second").asLong(load.capacityPerSecond());
            if (!(latency >= 0) || !(item >= 0) || capacity < 0) {
                return "latency_ms, item_latency_ms and capacity_per_second must be >= 0";
            }
            load.set(Duration.ofNanos((long) (latency * 1e6)), Duration.ofNanos((long) (item * 1e6)), capacity);
        }
        LOG.info("Gateway load changed through {}: {}", PATH, load);
        return null;
    }
}
