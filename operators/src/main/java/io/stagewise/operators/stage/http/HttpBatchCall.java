package io.stagewise.operators.stage.http;

import org.apache.flink.annotation.PublicEvolving;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.stagewise.operators.stage.BatchCall;
import io.stagewise.operators.stage.RetryableStageException;
import io.stagewise.operators.stage.StageContext;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * A {@link BatchCall} that POSTs {@code {"items":[{"idempotency_key": <key>, ...body}, ...]}} to a
 * batch endpoint and reads {@code {"results":[{"idempotency_key","status","body"}, ...]}}, one
 * result per item in order (the reference gateway's {@code POST /notifications/batch},
 * docs/payments.md). Each item's status and body are sorted exactly as {@link HttpStage} sorts a
 * single response (2xx success; 409, 429, 5xx retryable; 422 error; other 4xx permanent).
 *
 * <p>The batch as a whole: the statuses {@link HttpStage} retries (409, 429 and 5xx, the gateway's
 * 503 over capacity; the same rule, and the failure carries the status, so a 429 or 503 is a drop
 * for the batch window), timeouts, I/O errors and an unreadable 2xx body fail every item as
 * retryable; any other status, or results that do not match the items one for one (count, keys),
 * fail every item as an error in stage code, since they mean the client and the endpoint disagree
 * on the protocol. Non-blocking.
 */
@PublicEvolving
public final class HttpBatchCall implements BatchCall {
    private static final long serialVersionUID = 1L;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final String url;
    private final HttpStage.Body body;
    private transient HttpClient client;
    /** {@code url}, parsed once. */
    private transient URI uri;

    public HttpBatchCall(String url, HttpStage.Body body) {
        HttpClients.httpUri(url); // refused at construction, not at open on a TaskManager
        this.url = url;
        this.body = body;
    }

    @Override
    public void open() {
        client = HttpClients.newClient();
        uri = HttpClients.httpUri(url);
    }

    @Override
    public CompletableFuture<List<Result>> send(List<StageContext> items, Instant deadline) {
        ObjectNode request = JSON.createObjectNode();
        ArrayNode array = request.putArray("items");
        for (StageContext item : items) {
            ObjectNode entry = array.addObject();
            entry.put("idempotency_key", item.idempotencyKey());
            JsonNode fields = body.of(item);
            fields.fields().forEachRemaining(field -> entry.set(field.getKey(), field.getValue()));
        }
        HttpRequest http = HttpRequest.newBuilder(uri)
                .timeout(HttpClients.timeoutUntil(deadline))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(request.toString()))
                .build();
        return client.sendAsync(http, HttpResponse.BodyHandlers.ofString())
                .thenApply(response -> interpret(items, response.statusCode(), response.body()));
    }

    static List<Result> interpret(List<StageContext> items, int code, String responseBody) {
        String what = "batch of " + items.size() + " item(s) of stage " + items.get(0).stage() + " (first event "
                + items.get(0).eventId() + ")";
        if (HttpStage.retryableStatus(code)) {
            throw new RetryableStageException(what + ": HTTP " + code + " " + HttpStage.errorOf(responseBody), code);
        }
        if (code < 200 || code >= 300) {
            throw new IllegalStateException(what + ": refused as a whole with HTTP " + code + " "
                    + HttpStage.errorOf(responseBody));
        }
        JsonNode results;
        try {
            results = JSON.readTree(responseBody).path("results");
        } catch (IOException e) {
            throw new RetryableStageException(what + ": unreadable 2xx response: " + e.getMessage(), e);
        }
        if (!results.isArray() || results.size() != items.size()) {
            throw new IllegalStateException(what + ": the response holds " + (results.isArray() ? results.size() : "no")
                    + " results");
        }
        List<Result> outcomes = new ArrayList<>(items.size());
        for (int i = 0; i < items.size(); i++) {
            StageContext item = items.get(i);
            JsonNode result = results.get(i);
            if (!item.idempotencyKey().equals(result.path("idempotency_key").asText())) {
                throw new IllegalStateException(what + ": result " + i + " is for key "
                        + result.path("idempotency_key").asText() + ", expected " + item.idempotencyKey());
            }
            try {
                outcomes.add(Result.success(HttpStage.interpret(item, result.path("status").asInt(),
                        result.path("body").toString())));
            } catch (RuntimeException failure) {
                outcomes.add(Result.failure(failure));
            }
        }
        return outcomes;
    }

    @Override
    public void close() {
        client = null;
    }
}
