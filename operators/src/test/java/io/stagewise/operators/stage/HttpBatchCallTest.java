package io.stagewise.operators.stage;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import io.stagewise.operators.event.Event;
import io.stagewise.operators.stage.http.HttpBatchCall;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@link HttpBatchCall} against a real local HTTP server answering with a fixed status and body. */
class HttpBatchCallTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private HttpServer server;
    private volatile int status;
    private volatile String body;
    private volatile JsonNode received;

    @BeforeEach
    void startServer() throws Exception {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/notifications/batch", exchange -> {
            received = JSON.readTree(exchange.getRequestBody().readAllBytes());
            byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(status, bytes.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(bytes);
            }
        });
        server.start();
    }

    @AfterEach
    void stopServer() {
        server.stop(0);
    }

    private static StageContext item(String id) {
        Event event = new Event();
        event.id = id;
        event.key = "acct-1";
        event.payload = "{}";
        return new StageContext(event, "notify", id + ":notify", 1, Instant.now().plus(Duration.ofSeconds(10)),
                Progress.empty());
    }

    private List<BatchCall.Result> send(int code, String responseBody, StageContext... items) throws Exception {
        status = code;
        body = responseBody;
        HttpBatchCall call = new HttpBatchCall("http://127.0.0.1:" + server.getAddress().getPort() + "/notifications/batch",
                ctx -> JSON.createObjectNode().put("payment_id", ctx.eventId()));
        call.open();
        try {
            return call.send(List.of(items), Instant.now().plus(Duration.ofSeconds(10))).get(10, TimeUnit.SECONDS);
        } finally {
            call.close();
        }
    }

    @Test
    void eachItemCarriesItsKeyAndEachResultIsSortedLikeASingleResponse() throws Exception {
        List<BatchCall.Result> results = send(200, "{\"results\":["
                + "{\"idempotency_key\":\"a:notify\",\"status\":200,\"body\":{\"notification_id\":\"nt_1\"}},"
                + "{\"idempotency_key\":\"b:notify\",\"status\":503,\"body\":{\"error\":{\"type\":\"service_unavailable\"}}},"
                + "{\"idempotency_key\":\"c:notify\",\"status\":402,\"body\":{\"error\":{\"type\":\"card_declined\"}}},"
                + "{\"idempotency_key\":\"d:notify\",\"status\":422,\"body\":{\"error\":{\"type\":\"idempotency_key_reused\"}}}]}",
                item("a"), item("b"), item("c"), item("d"));
        assertThat(received.path("items").get(0).path("idempotency_key").asText()).isEqualTo("a:notify");
        assertThat(received.path("items").get(1).path("payment_id").asText()).isEqualTo("b");
        assertThat(results.get(0).output().path("notification_id").asText()).isEqualTo("nt_1");
        assertThat(FailureClass.of(results.get(1).failure())).isEqualTo(FailureClass.RETRYABLE);
        assertThat(FailureClass.of(results.get(2).failure())).isEqualTo(FailureClass.PERMANENT);
        assertThat(FailureClass.of(results.get(3).failure())).isEqualTo(FailureClass.ERROR);
    }

    @Test
    void aWholeBatchFailureIsRetryableAndAMismatchIsAnError() throws Exception {
        assertThat(FailureClass.of(failureOf(503, "{\"error\":{\"type\":\"service_unavailable\"}}")))
                .isEqualTo(FailureClass.RETRYABLE);
        assertThat(FailureClass.of(failureOf(200, "{\"results\":[]}"))).isEqualTo(FailureClass.ERROR);
        assertThat(FailureClass.of(failureOf(200,
                "{\"results\":[{\"idempotency_key\":\"other:notify\",\"status\":200,\"body\":{}}]}")))
                .isEqualTo(FailureClass.ERROR);
        assertThat(FailureClass.of(failureOf(400, "{\"error\":{\"type\":\"invalid_request\"}}"))).isEqualTo(FailureClass.ERROR);
    }

    @Test
    void aWholeBatchRefusedWith503Or429IsADropThatCarriesItsStatus() throws Exception {
        Throwable unavailable = failureOf(503, "{\"error\":{\"type\":\"service_unavailable\"}}");
        assertThat(((RetryableStageException) unavailable).httpStatus()).isEqualTo(503);
        assertThat(InFlightLimit.isDrop(unavailable)).isTrue();
        assertThat(InFlightLimit.isDrop(failureOf(429, "{}"))).isTrue();
        // retryable, but says nothing about load: the same rule as a single call
        Throwable conflict = failureOf(409, "{}");
        assertThat(FailureClass.of(conflict)).isEqualTo(FailureClass.RETRYABLE);
        assertThat(InFlightLimit.isDrop(conflict)).isFalse();
    }

    private Throwable failureOf(int code, String responseBody) throws Exception {
        try {
            send(code, responseBody, item("a"));
            return null;
        } catch (ExecutionException e) {
            return FailureClass.unwrap(e);
        }
    }
}
