package io.stagewise.operators.stage;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import io.stagewise.operators.event.Event;
import io.stagewise.operators.stage.http.HttpStage;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@link HttpStage} against a real local HTTP server answering with a fixed status. */
class HttpStageTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private HttpServer server;
    private volatile int status;
    private volatile String body;
    private final List<String> keys = new CopyOnWriteArrayList<>();

    @BeforeEach
    void startServer() throws Exception {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/charges", exchange -> {
            keys.add(exchange.getRequestHeaders().getFirst(HttpStage.IDEMPOTENCY_KEY));
            exchange.getRequestBody().readAllBytes();
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

    private Throwable failureOf(int code, String responseBody) throws Exception {
        status = code;
        body = responseBody;
        HttpStage stage = new HttpStage("http://127.0.0.1:" + server.getAddress().getPort() + "/charges",
                ctx -> JSON.createObjectNode().put("amount", "5.00"));
        stage.open();
        Event event = new Event();
        event.id = "pay-1";
        event.key = "acct-1";
        event.payload = "{}";
        CompletableFuture<?> result = stage.call(new StageContext(event, "charge", "pay-1:charge", 1,
                Instant.now().plus(Duration.ofSeconds(10)), Progress.empty()));
        try {
            result.get(10, TimeUnit.SECONDS);
            return null;
        } catch (ExecutionException e) {
            return FailureClass.unwrap(e);
        } finally {
            stage.close();
        }
    }

    @Test
    void keyReusedWithOtherParametersIsAnErrorNotADefinitiveRejection() throws Exception {
        Throwable failure = failureOf(422,
                "{\"error\":{\"type\":\"idempotency_key_reused\",\"message\":\"other parameters\"}}");
        assertThat(FailureClass.of(failure)).as("422 must not bump the key generation").isEqualTo(FailureClass.ERROR);
        assertThat(failure.getMessage()).contains("pay-1:charge", "reused with other parameters", "422");
        assertThat(keys).containsExactly("pay-1:charge");
    }

    @Test
    void responsesAreSorted() throws Exception {
        assertThat(FailureClass.of(failureOf(402, "{\"error\":{\"type\":\"card_declined\"}}"))).isEqualTo(FailureClass.PERMANENT);
        assertThat(FailureClass.of(failureOf(409, "{\"error\":{\"type\":\"idempotency_key_in_use\"}}"))).isEqualTo(FailureClass.RETRYABLE);
        assertThat(FailureClass.of(failureOf(429, "slow down"))).isEqualTo(FailureClass.RETRYABLE);
        assertThat(FailureClass.of(failureOf(503, "unavailable"))).isEqualTo(FailureClass.RETRYABLE);
        assertThat(failureOf(200, "{\"charge_id\":\"ch_1\"}")).isNull();
    }

    @Test
    void only429And503AreDropsForTheInFlightLimit() throws Exception {
        assertThat(InFlightLimit.isDrop(failureOf(429, "slow down"))).isTrue();
        assertThat(InFlightLimit.isDrop(failureOf(503, "unavailable"))).isTrue();
        assertThat(((RetryableStageException) failureOf(503, "unavailable")).httpStatus()).isEqualTo(503);
        assertThat(InFlightLimit.isDrop(failureOf(500, "{\"error\":{\"type\":\"api_error\"}}"))).isFalse();
        assertThat(InFlightLimit.isDrop(failureOf(409, "{\"error\":{\"type\":\"idempotency_key_in_use\"}}"))).isFalse();
        assertThat(InFlightLimit.isDrop(failureOf(402, "{\"error\":{\"type\":\"card_declined\"}}"))).isFalse();
    }
}
