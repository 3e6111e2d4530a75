package io.stagewise.gateway;

import static io.stagewise.gateway.GatewayClient.json;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * {@code POST /notifications/batch} against a real PostgreSQL: per-item idempotency keys and
 * results, the same stored responses as the single endpoint, faults per item, capacity and the
 * control endpoint.
 */
class GatewayBatchITCase extends GatewayFixture {
    private static String item(String key, String paymentId, String chargeId) {
        return String.format("{\"idempotency_key\":\"%s\",\"payment_id\":\"%s\",\"account\":\"acct-1\",\"charge_id\":\"%s\"}",
                key, paymentId, chargeId);
    }

    private HttpResponse<String> batch(String... items) throws IOException, InterruptedException {
        return client.post("/notifications/batch", null, "{\"items\":[" + String.join(",", items) + "]}");
    }

    @Test
    void everyItemGetsItsOwnStoredResultAndReplaysAcrossBothEndpoints() throws Exception {
        start(GatewaySettings.builder());
        HttpResponse<String> single = client.post("/notifications", "b1-a:notify",
                "{\"payment_id\":\"b1-a\",\"account\":\"acct-1\",\"charge_id\":\"ch_a\"}");
        assertThat(single.statusCode()).isEqualTo(200);

        HttpResponse<String> first = batch(item("b1-a:notify", "b1-a", "ch_a"), item("b1-b:notify", "b1-b", "ch_b"),
                item("b1-c:notify", "b1-c", "ch_other"));
        assertThat(first.statusCode()).isEqualTo(200);
        JsonNode results = json(first).path("results");
        assertThat(results).hasSize(3);
        // (1) A key first used on the single endpoint replays its stored response in a batch.
        assertThat(results.get(0).path("status").asInt()).isEqualTo(200);
        assertThat(results.get(0).path("replayed").asBoolean()).isTrue();
        assertThat(results.get(0).path("body")).isEqualTo(json(single));
        assertThat(results.get(1).path("status").asInt()).isEqualTo(200);
        assertThat(results.get(1).path("body").path("notification_id").asText()).startsWith("nt_");

        // (2) The same batch again: every item replayed, nothing new executes.
        JsonNode again = json(batch(item("b1-a:notify", "b1-a", "ch_a"), item("b1-b:notify", "b1-b", "ch_b"),
                item("b1-c:notify", "b1-c", "ch_other"))).path("results");
        for (int i = 0; i < 3; i++) {
            assertThat(again.get(i).path("replayed").asBoolean()).isTrue();
            assertThat(again.get(i).path("body")).isEqualTo(results.get(i).path("body"));
        }
        // (3) Same key, other parameters: 422 for that item only.
        JsonNode reused = json(batch(item("b1-c:notify", "b1-c", "ch_changed"), item("b1-d:notify", "b1-d", "ch_d")))
                .path("results");
        assertThat(reused.get(0).path("status").asInt()).isEqualTo(422);
        assertThat(reused.get(0).path("body").path("error").path("type").asText()).isEqualTo("idempotency_key_reused");
        assertThat(reused.get(1).path("status").asInt()).isEqualTo(200);
        assertThat(gateway.requestCounts("notifications")).containsEntry("b1-a:notify", 3).containsEntry("b1-d:notify", 1);
    }

    @Test
    void aTransientFaultHitsOnlyItsItem() throws Exception {
        start(GatewaySettings.builder().faults(FaultPolicy.firstRequests("notifications", "b2-x:notify"::equals, 1,
                Fault.TRANSIENT)));
        JsonNode results = json(batch(item("b2-x:notify", "b2-x", "ch_x"), item("b2-y:notify", "b2-y", "ch_y")))
                .path("results");
        assertThat(results.get(0).path("status").asInt()).isEqualTo(503);
        assertThat(results.get(1).path("status").asInt()).isEqualTo(200);
        // Nothing was recorded for the 503: the retry executes.
        JsonNode retry = json(batch(item("b2-x:notify", "b2-x", "ch_x"))).path("results");
        assertThat(retry.get(0).path("status").asInt()).isEqualTo(200);
        assertThat(retry.get(0).path("replayed").asBoolean()).isFalse();
    }

    @Test
    void aLostBatchResponseExecutedEveryItemAndTheRetryReplaysThem() throws Exception {
        start(GatewaySettings.builder().faults(FaultPolicy.firstRequests("notifications", "b3-y:notify"::equals, 1,
                Fault.TIMEOUT)));
        assertThatThrownBy(() -> batch(item("b3-x:notify", "b3-x", "ch_x"), item("b3-y:notify", "b3-y", "ch_y")))
                .isInstanceOf(IOException.class);
        JsonNode retry = json(batch(item("b3-x:notify", "b3-x", "ch_x"), item("b3-y:notify", "b3-y", "ch_y")))
                .path("results");
        assertThat(retry.get(0).path("replayed").asBoolean()).isTrue();
        assertThat(retry.get(1).path("replayed").asBoolean()).isTrue();
    }

    @Test
    void aBatchOverTheCapacityIsRefusedWholeAndExecutesNothing() throws Exception {
        start(GatewaySettings.builder().capacityPerSecond(2).control(true));
        HttpResponse<String> refused = batch(item("b4-a:notify", "b4-a", "c"), item("b4-b:notify", "b4-b", "c"),
                item("b4-c:notify", "b4-c", "c"));
        assertThat(refused.statusCode()).isEqualTo(503);
        assertThat(gateway.requestCounts("notifications")).as("received, not executed").containsEntry("b4-a:notify", 1);
        assertThat(gateway.effectiveNotifications()).doesNotContainKey("b4-a");

        // The control endpoint lifts the capacity and sets the item cost at run time.
        HttpResponse<String> control = client.post("/control/latency", null,
                "{\"capacity_per_second\":0,\"item_latency_ms\":40}");
        assertThat(control.statusCode()).isEqualTo(200);
        assertThat(json(client.get("/control/latency")).path("item_latency_ms").asDouble()).isEqualTo(40.0);
        long started = System.nanoTime();
        assertThat(batch(item("b4-a:notify", "b4-a", "c"), item("b4-b:notify", "b4-b", "c"),
                item("b4-c:notify", "b4-c", "c")).statusCode()).isEqualTo(200);
        assertThat(gateway.effectiveNotifications()).containsEntry("b4-a", 1);
        assertThat(Duration.ofNanos(System.nanoTime() - started)).isGreaterThanOrEqualTo(Duration.ofMillis(120));
    }

    @Test
    void aMalformedBatchIs400AndTheControlEndpointIsOffByDefault() throws Exception {
        start(GatewaySettings.builder());
        assertThat(client.post("/notifications/batch", null, "{\"items\":[]}").statusCode()).isEqualTo(400);
        assertThat(batch(item("b5:notify", "b5", "c"), item("b5:notify", "b5", "c")).statusCode()).isEqualTo(400);
        assertThat(client.post("/notifications/batch", null, "{\"items\":[{\"payment_id\":\"p\"}]}").statusCode())
                .isEqualTo(400);
        assertThat(client.get("/control/latency").statusCode()).isEqualTo(404);
    }
}
