package io.stagewise.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;

/** A plain HTTP client of the gateway, as a downstream caller sees it. */
final class GatewayClient {
    static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    private final HttpClient http = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();
    private final String baseUrl;

    GatewayClient(String baseUrl) {
        this.baseUrl = baseUrl;
    }

    static String charge(String paymentId, String account, String amount) {
        return String.format("{\"payment_id\":\"%s\",\"account\":\"%s\",\"amount\":\"%s\",\"currency\":\"EUR\",\"merchant\":\"m-1\"}",
                paymentId, account, amount);
    }

    HttpResponse<String> post(String path, String key, String body) throws IOException, InterruptedException {
        return http.send(postRequest(path, key, body), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    }

    CompletableFuture<HttpResponse<String>> postAsync(String path, String key, String body) {
        return http.sendAsync(postRequest(path, key, body), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    }

    HttpResponse<String> get(String pathAndQuery) throws IOException, InterruptedException {
        HttpRequest request = HttpRequest.newBuilder(URI.create(baseUrl + pathAndQuery)).timeout(TIMEOUT).GET().build();
        return http.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    }

    private HttpRequest postRequest(String path, String key, String body) {
        HttpRequest.Builder builder = HttpRequest.newBuilder(URI.create(baseUrl + path))
                .timeout(TIMEOUT)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8));
        if (key != null) {
            builder.header("Idempotency-Key", key);
        }
        return builder.build();
    }

    static JsonNode json(HttpResponse<String> response) {
        try {
            return JSON.readTree(response.body());
        } catch (IOException e) {
            throw new UncheckedIOException("not JSON: " + response.body(), e);
        }
    }

    static String errorType(HttpResponse<String> response) {
        return json(response).path("error").path("type").asText();
    }
}
