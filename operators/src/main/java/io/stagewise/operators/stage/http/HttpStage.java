package io.stagewise.operators.stage.http;

import org.apache.flink.annotation.PublicEvolving;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.stagewise.operators.stage.IdempotencyKeyReusedException;
import io.stagewise.operators.stage.PermanentStageException;
import io.stagewise.operators.stage.RemoteStage;
import io.stagewise.operators.stage.RetryableStageException;
import io.stagewise.operators.stage.StageContext;
import java.io.IOException;
import java.io.Serializable;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.concurrent.CompletableFuture;

/**
 * A remote stage that POSTs a JSON body to an HTTP endpoint with header
 * {@code Idempotency-Key: <event id>:<stage>} and returns the JSON response as the stage output.
 *
 * <p>Responses are sorted as docs/failures.md says: 2xx is success; 409 (e.g.
 * {@code idempotency_key_in_use}), 429 and 5xx are retryable; 422 ({@code idempotency_key_reused}:
 * the key was used with other parameters) is an error, not a definitive rejection, since the first
 * request may have taken effect ({@link IdempotencyKeyReusedException}: the key generation stays);
 * any other 4xx is a definitive rejection (permanent); connection errors and timeouts are retryable. Non-blocking: uses the JDK
 * HTTP client's asynchronous API.
 */
@PublicEvolving
public final class HttpStage implements RemoteStage {
    private static final long serialVersionUID = 1L;
    private static final ObjectMapper JSON = new ObjectMapper();
    public static final String IDEMPOTENCY_KEY = "Idempotency-Key";

    /** Builds the request body from the event and earlier outputs. */
    @FunctionalInterface
    public interface Body extends Serializable {
        JsonNode of(StageContext context);
    }

    private final String url;
    private final Body body;
    private transient HttpClient client;
    /** {@code url}, parsed once. */
    private transient URI uri;

    public HttpStage(String url, Body body) {
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
    public CompletableFuture<JsonNode> call(StageContext context) {
        HttpRequest request = HttpRequest.newBuilder(uri)
                .timeout(HttpClients.timeoutUntil(context.deadline()))
                .header("Content-Type", "application/json")
                .header(IDEMPOTENCY_KEY, context.idempotencyKey())
                .POST(HttpRequest.BodyPublishers.ofString(body.of(context).toString()))
                .build();
        return client.sendAsync(request, HttpResponse.BodyHandlers.ofString())
                .thenApply(response -> interpret(context, response));
    }

    static JsonNode interpret(StageContext context, HttpResponse<String> response) {
        return interpret(context, response.statusCode(), response.body());
    }

    /** Sorts one response (or one item's result in a batch response) as the class Javadoc says. */
    static JsonNode interpret(StageContext context, int code, String body) {
        String what = context.stage() + " of " + context.eventId() + " (" + context.idempotencyKey() + ")";
        if (code >= 200 && code < 300) {
            try {
                return JSON.readTree(body);
            } catch (IOException e) {
                throw new RetryableStageException(what + ": unreadable 2xx response: " + e.getMessage(), e);
            }
        }
        String detail = "HTTP " + code + " " + errorOf(body);
        if (retryableStatus(code)) {
            throw new RetryableStageException(what + ": " + detail, code);
        }
        if (code == 422) {
            throw new IdempotencyKeyReusedException(what + ": " + detail + ": the idempotency key was reused with other "
                    + "parameters; the first request under it may have taken effect, so this is not a definitive rejection "
                    + "and the key is kept (a replay cannot apply it twice)");
        }
        throw new PermanentStageException(what + ": " + detail);
    }

    /**
     * Whether an HTTP status is retryable: 409 (e.g. {@code idempotency_key_in_use}), 429 and 5xx.
     * The one rule for a single response, a batch response as a whole ({@link HttpBatchCall}) and
     * each item of a batch; the failure carries the status, so 429 and 503 count as drops for the
     * in-flight limit and the batch window.
     */
    static boolean retryableStatus(int code) {
        return code == 409 || code == 429 || code >= 500;
    }

    static String errorOf(String body) {
        try {
            JsonNode error = JSON.readTree(body).path("error");
            if (error.isObject()) {
                return error.path("type").asText("") + (error.has("message") ? ": " + error.path("message").asText() : "");
            }
        } catch (IOException | RuntimeException e) {
            // not JSON: fall through to the raw text
        }
        return body == null ? "" : body.length() > 200 ? body.substring(0, 200) : body;
    }

    @Override
    public void close() {
        client = null;
    }
}
