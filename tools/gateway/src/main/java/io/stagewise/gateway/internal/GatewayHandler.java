package io.stagewise.gateway.internal;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import io.stagewise.gateway.Fault;
import io.stagewise.gateway.FaultPolicy;
import java.io.IOException;
import java.io.InputStream;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.sql.SQLException;
import java.time.Duration;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Every route of the gateway. A {@code POST} goes: key present, count it, body valid, fault
 * decision, then the idempotency protocol of {@link IdempotencyStore} (numbered below as in
 * docs/payments.md).
 */
public final class GatewayHandler implements HttpHandler {
    private static final Logger LOG = LoggerFactory.getLogger(GatewayHandler.class);

    public static final String IDEMPOTENCY_KEY = "Idempotency-Key";
    public static final String IDEMPOTENT_REPLAYED = "Idempotent-Replayed";
    /** Event ids are up to 255 characters and keys add {@code :<stage>:<n>}. */
    public static final int MAX_KEY_LENGTH = 1024;
    public static final String BATCH_PATH = "/notifications/batch";
    public static final int MAX_BATCH_ITEMS = 1000;
    public static final int MAX_BATCH_BODY_BYTES = 4 * 1024 * 1024;

    private final IdempotencyStore store;
    private final Effects effects;
    private final RequestCounters counters;
    private final FaultPolicy faults;
    private final LoadModel load;
    private final ExecutionHook hook;

    public GatewayHandler(IdempotencyStore store, Effects effects, RequestCounters counters, FaultPolicy faults,
            LoadModel load, ExecutionHook hook) {
        this.store = store;
        this.effects = effects;
        this.counters = counters;
        this.faults = faults;
        this.load = load;
        this.hook = hook;
    }

    /** What to send back. */
    private record Reply(int status, byte[] body, boolean replayed) {
        static Reply of(int status, byte[] body) {
            return new Reply(status, body, false);
        }
    }

    @Override
    public void handle(HttpExchange exchange) throws IOException {
        try {
            Optional<Reply> reply = route(exchange);
            if (reply.isPresent()) {
                send(exchange, reply.get());
            }
            // else: an injected timeout; closing below without a status line drops the connection.
        } catch (RuntimeException e) {
            LOG.error("{} {} failed unexpectedly", exchange.getRequestMethod(), exchange.getRequestURI(), e);
            if (exchange.getResponseCode() != -1) {
                throw e; // headers already sent: nothing better to do than to drop the connection
            }
            send(exchange, Reply.of(500, Json.error("api_error", "internal error: " + e.getClass().getSimpleName())));
        } finally {
            exchange.close();
        }
    }

    private Optional<Reply> route(HttpExchange exchange) throws IOException {
        String path = exchange.getRequestURI().getPath();
        String method = exchange.getRequestMethod();
        if (path.equals(BATCH_PATH)) {
            return method.equals("POST") ? postBatch(exchange) : Optional.of(notAllowed(exchange, "POST"));
        }
        Optional<Endpoint> endpoint = Endpoint.byId(path.substring(1));
        if (endpoint.isPresent()) {
            return method.equals("POST")
                    ? post(exchange, endpoint.get())
                    : Optional.of(notAllowed(exchange, "POST"));
        }
        if (path.equals("/health") || path.equals("/audit/charges") || path.equals("/audit/requests")) {
            if (!method.equals("GET")) {
                return Optional.of(notAllowed(exchange, "GET"));
            }
            switch (path) {
                case "/health":
                    return Optional.of(Reply.of(200, Json.bytes(Json.object().put("status", "ok"))));
                case "/audit/charges":
                    return Optional.of(auditCharges());
                default:
                    return Optional.of(auditRequests(exchange));
            }
        }
        return Optional.of(Reply.of(404, Json.error("invalid_request", "no such endpoint: " + method + " " + path)));
    }

    private Optional<Reply> post(HttpExchange exchange, Endpoint endpoint) throws IOException {
        String key = exchange.getRequestHeaders().getFirst(IDEMPOTENCY_KEY);
        if (key == null || key.isBlank()) {
            return Optional.of(invalid("header " + IDEMPOTENCY_KEY + " is required on POST " + endpoint.path()));
        }
        if (key.length() > MAX_KEY_LENGTH) {
            return Optional.of(invalid("header " + IDEMPOTENCY_KEY + " is longer than " + MAX_KEY_LENGTH + " characters"));
        }
        int requestNumber = counters.record(endpoint, key);
        Latency pause = new Latency(load.requestLatency());

        GatewayRequest request;
        try {
            request = GatewayRequest.parse(endpoint, readBody(exchange));
        } catch (InvalidRequestException e) {
            // Not stored, as Stripe does not store validation errors: the client fixes the body and
            // may send it again under the same key.
            pause.spend();
            return Optional.of(invalid(e.getMessage()));
        }

        Fault fault = faults.decide(endpoint.id(), key, requestNumber);
        Reply reply;
        if (fault == Fault.TRANSIENT) {
            LOG.debug("Injected transient 503 for {} Idempotency-Key {} (request {})", endpoint.path(), key, requestNumber);
            reply = Reply.of(503, Json.error("service_unavailable", "the gateway is temporarily unavailable; retry"));
        } else {
            reply = serve(endpoint, key, request, pause);
        }
        pause.spend();
        if (fault == Fault.TIMEOUT) {
            LOG.debug("Injected timeout: dropping the {} response for {} Idempotency-Key {} (request {})",
                    reply.status(), endpoint.path(), key, requestNumber);
            return Optional.empty();
        }
        return Optional.of(reply);
    }

    /**
     * {@code POST /notifications/batch}: every item is a notification with its own
     * {@code idempotency_key}, served exactly as {@code POST /notifications} with that key would be
     * (same request hash, so a key first used on either endpoint replays on the other), each in its
     * own transaction; one item's failure never touches another. The whole batch is refused, with
     * nothing executed, when it is malformed (400, not counted) or over the capacity (503, each item
     * counted as a request received); an injected timeout on
     * any item loses the whole response after every item executed (the ambiguous ack of a batch).
     * The batch spends {@code latency + n x itemLatency} once.
     */
    private Optional<Reply> postBatch(HttpExchange exchange) throws IOException {
        long received = System.nanoTime();
        byte[] body;
        try (InputStream in = exchange.getRequestBody()) {
            body = in.readNBytes(MAX_BATCH_BODY_BYTES + 1);
        }
        JsonNode items;
        try {
            items = batchItems(body);
        } catch (InvalidRequestException e) {
            return Optional.of(invalid(e.getMessage()));
        }
        // Every item counts as a request received for its key, a refused batch's too.
        int[] requestNumbers = new int[items.size()];
        for (int i = 0; i < items.size(); i++) {
            requestNumbers[i] = counters.record(Endpoint.NOTIFICATIONS, items.get(i).get("idempotency_key").textValue());
        }
        if (!load.admit(items.size())) {
            // (1) Over capacity: shed the whole batch before anything is recorded; a retry executes normally.
            return Optional.of(Reply.of(503, Json.error("service_unavailable", "the gateway is over its capacity of "
                    + load.capacityPerSecond() + " items/s; retry with a smaller batch or later")));
        }
        Latency pause = new Latency(load.batchLatency(items.size()));
        pause.spend();
        ArrayNode results = Json.MAPPER.createArrayNode();
        boolean lose = false;
        for (int i = 0; i < items.size(); i++) {
            JsonNode item = items.get(i);
            String key = item.get("idempotency_key").textValue();
            int requestNumber = requestNumbers[i];
            Reply reply;
            Fault fault = Fault.NONE;
            try {
                GatewayRequest request = GatewayRequest.parse(Endpoint.NOTIFICATIONS, Json.bytes(item));
                fault = faults.decide(Endpoint.NOTIFICATIONS.id(), key, requestNumber);
                // (2) Per item, as the single endpoint: a transient 503, or the idempotency protocol.
                reply = fault == Fault.TRANSIENT
                        ? Reply.of(503, Json.error("service_unavailable", "the gateway is temporarily unavailable; retry"))
                        : serve(Endpoint.NOTIFICATIONS, key, request, new Latency(Duration.ZERO));
            } catch (InvalidRequestException e) {
                reply = invalid(e.getMessage());
            }
            lose |= fault == Fault.TIMEOUT;
            ObjectNode result = results.addObject()
                    .put("idempotency_key", key)
                    .put("status", reply.status());
            if (reply.replayed()) {
                result.put("replayed", true);
            }
            result.set("body", Json.MAPPER.readTree(reply.body()));
        }
        if (lose) {
            // (3) The batch's ambiguous ack: every item ran, the response is lost; retries replay.
            LOG.debug("Injected timeout: dropping the response of a batch of {} notifications", items.size());
            return Optional.empty();
        }
        ObjectNode response = Json.object();
        response.set("results", results);
        byte[] bytes = Json.bytes(response);
        load.served().record((System.nanoTime() - received) / 1000);
        return Optional.of(Reply.of(200, bytes));
    }

    /** The {@code items} of a batch body; each an object with a non-blank {@code idempotency_key}. */
    private static JsonNode batchItems(byte[] body) throws InvalidRequestException {
        if (body.length > MAX_BATCH_BODY_BYTES) {
            throw new InvalidRequestException("the body is larger than " + MAX_BATCH_BODY_BYTES + " bytes");
        }
        JsonNode json;
        try {
            json = Json.MAPPER.readTree(body);
        } catch (JacksonException e) {
            throw new InvalidRequestException("the body is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new InvalidRequestException("the body cannot be read: " + e.getMessage());
        }
        JsonNode items = json == null ? null : json.get("items");
        if (items == null || !items.isArray() || items.isEmpty() || items.size() > MAX_BATCH_ITEMS) {
            throw new InvalidRequestException("the body must be {\"items\": [...]} with 1 to " + MAX_BATCH_ITEMS + " items");
        }
        Set<String> keys = new HashSet<>();
        for (JsonNode item : items) {
            JsonNode key = item.get("idempotency_key");
            if (!item.isObject() || key == null || !key.isTextual() || key.textValue().isBlank()
                    || key.textValue().length() > MAX_KEY_LENGTH) {
                throw new InvalidRequestException("every item needs an idempotency_key of 1 to " + MAX_KEY_LENGTH
                        + " characters");
            }
            if (!keys.add(key.textValue())) {
                throw new InvalidRequestException("idempotency_key " + key.textValue() + " appears twice in the batch");
            }
        }
        return items;
    }

    private Reply serve(Endpoint endpoint, String key, GatewayRequest request, Latency pause) {
        String requestHash = request.requestHash();
        IdempotencyStore.Claim claim;
        try {
            // (1) Record the key atomically, or learn who holds it.
            claim = store.claim(key, endpoint.id(), requestHash);
        } catch (SQLException e) {
            LOG.warn("Cannot look up Idempotency-Key {} in PostgreSQL; answering 503 (check the database"
                    + " and --jdbc-url): {}", key, e.getMessage());
            return Reply.of(503, Json.error("service_unavailable", "the idempotency store is unavailable; retry"));
        }
        if (claim instanceof IdempotencyStore.Existing existing) {
            if (!existing.requestHash().equals(requestHash)) {
                // (3) Same key, different endpoint or parameters: a client bug, never retryable.
                return Reply.of(422, Json.error("idempotency_key_reused", "Idempotency-Key " + key
                        + " was used with different parameters or on another endpoint"));
            }
            if (!existing.done()) {
                // (4) The first request is still executing: the client should retry later.
                return Reply.of(409, Json.error("idempotency_key_in_use", "a request with Idempotency-Key "
                        + key + " is still executing; retry later"));
            }
            // (2) Replay the stored response, byte for byte, with no new effect.
            return new Reply(existing.response().status(), existing.response().body(), true);
        }

        IdempotencyStore.Claimed claimed = (IdempotencyStore.Claimed) claim;
        if (claimed.tookOverStaleClaim()) {
            LOG.warn("Idempotency-Key {} was executing longer than staleExecutionTimeout; its executor is"
                    + " presumed dead and this request executes it", key);
        }
        try {
            hook.beforeCommit(endpoint.id(), key);
            pause.spend(); // a slow downstream is slow while it holds the key
            StoredResponse response = store.complete(key, claimed.token(),
                    c -> effects.execute(c, key, request));
            return Reply.of(response.status(), response.body());
        } catch (Exception e) {
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            // (5) Unexpected failure: nothing committed; release the key so a retry can execute.
            LOG.error("Executing {} for Idempotency-Key {} failed; releasing the key", endpoint.path(), key, e);
            release(key, claimed.token());
            return Reply.of(500, Json.error("api_error", "executing the request failed; retry with the same key"));
        }
    }

    private void release(String key, String token) {
        try {
            store.release(key, token);
        } catch (SQLException e) {
            LOG.error("Cannot release Idempotency-Key {}: repeats get 409 until staleExecutionTimeout passes", key, e);
        }
    }

    private Reply auditCharges() {
        try {
            return Reply.of(200, Json.bytes(store.effectiveCharges()));
        } catch (SQLException e) {
            LOG.warn("Cannot read charges from PostgreSQL: {}", e.getMessage());
            return Reply.of(503, Json.error("service_unavailable", "the charge store is unavailable; retry"));
        }
    }

    private Reply auditRequests(HttpExchange exchange) {
        String endpointId = queryParameter(exchange, "endpoint");
        Optional<Endpoint> endpoint = endpointId == null ? Optional.empty() : Endpoint.byId(endpointId);
        if (endpoint.isEmpty()) {
            return invalid("query parameter endpoint must be charges or notifications");
        }
        return Reply.of(200, Json.bytes(counters.snapshot(endpoint.get())));
    }

    private static String queryParameter(HttpExchange exchange, String name) {
        String query = exchange.getRequestURI().getRawQuery();
        if (query == null) {
            return null;
        }
        for (String pair : query.split("&")) {
            int eq = pair.indexOf('=');
            String k = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
            if (k.equals(name)) {
                return eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
            }
        }
        return null;
    }

    private static byte[] readBody(HttpExchange exchange) throws IOException {
        try (InputStream in = exchange.getRequestBody()) {
            // One byte more than allowed, so that parse() can tell "too large".
            return in.readNBytes(GatewayRequest.MAX_BODY_BYTES + 1);
        }
    }

    private static Reply invalid(String message) {
        return Reply.of(400, Json.error("invalid_request", message));
    }

    private static Reply notAllowed(HttpExchange exchange, String allowed) {
        exchange.getResponseHeaders().set("Allow", allowed);
        return Reply.of(405, Json.error("invalid_request", exchange.getRequestMethod() + " is not allowed on "
                + exchange.getRequestURI().getPath() + "; use " + allowed));
    }

    private static void send(HttpExchange exchange, Reply reply) throws IOException {
        exchange.getResponseHeaders().set("Content-Type", "application/json; charset=utf-8");
        if (reply.replayed()) {
            exchange.getResponseHeaders().set(IDEMPOTENT_REPLAYED, "true");
        }
        exchange.sendResponseHeaders(reply.status(), reply.body().length);
        exchange.getResponseBody().write(reply.body());
    }

    /** The added latency, spent once per request wherever it is spent first. */
    private static final class Latency {
        private Duration remaining;

        Latency(Duration latency) {
            this.remaining = latency;
        }

        void spend() {
            if (remaining.isZero()) {
                return;
            }
            long millis = remaining.toMillis();
            remaining = Duration.ZERO;
            try {
                Thread.sleep(millis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt(); // the server is stopping
            }
        }
    }

}
