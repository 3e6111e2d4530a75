package io.stagewise.gateway;

import static io.stagewise.gateway.GatewayClient.charge;
import static io.stagewise.gateway.GatewayClient.errorType;
import static io.stagewise.gateway.GatewayClient.json;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import io.stagewise.gateway.internal.ExecutionHook;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * The gateway's idempotency contract (docs/payments.md) over real HTTP against a real
 * PostgreSQL. One PostgreSQL for the class, a fresh gateway per test; tests use disjoint keys and
 * payment ids, so the shared tables do not couple them.
 */
class GatewayIdempotencyITCase extends GatewayFixture {
    private static final String REPLAYED = "Idempotent-Replayed";

    @Test
    void replaysTheStoredResponseByteForByteWithoutChargingAgain() throws Exception {
        start(GatewaySettings.builder());
        String key = "pay-replay:charge";

        HttpResponse<String> first = client.post("/charges", key, charge("pay-replay", "acct-1", "12.50"));

        assertThat(first.statusCode()).isEqualTo(200);
        assertThat(first.headers().firstValue(REPLAYED)).isEmpty();
        assertThat(first.headers().firstValue("Content-Type")).hasValue("application/json; charset=utf-8");
        JsonNode charge = json(first);
        assertThat(charge.path("charge_id").asText()).startsWith("ch_").hasSizeGreaterThan(10);
        assertThat(charge.path("payment_id").asText()).isEqualTo("pay-replay");
        assertThat(charge.path("account").asText()).isEqualTo("acct-1");
        assertThat(charge.path("amount").asText()).isEqualTo("12.50");
        assertThat(charge.path("currency").asText()).isEqualTo("EUR");

        // The same parameters written differently (order, spacing, 12.5 for 12.50) are the same request.
        HttpResponse<String> second = client.post("/charges", key, "{ \"merchant\": \"m-1\", \"currency\": \"EUR\","
                + " \"amount\": \"12.5\", \"account\": \"acct-1\", \"payment_id\": \"pay-replay\", \"note\": \"x\" }");
        HttpResponse<String> third = client.post("/charges", key, charge("pay-replay", "acct-1", "12.50"));

        for (HttpResponse<String> repeat : List.of(second, third)) {
            assertThat(repeat.statusCode()).isEqualTo(200);
            assertThat(repeat.headers().firstValue(REPLAYED)).hasValue("true");
            assertThat(repeat.body()).isEqualTo(first.body());
        }
        assertThat(gateway.effectiveCharges()).containsEntry("pay-replay", 1);
        assertThat(gateway.requestCounts("charges")).containsEntry(key, 3);
        assertThat(keyState(key)).isEqualTo("done 200");
    }

    @Test
    void notificationsAreIdempotentToo() throws Exception {
        start(GatewaySettings.builder());
        String key = "pay-notify:notify";
        String body = "{\"payment_id\":\"pay-notify\",\"account\":\"acct-1\",\"charge_id\":\"ch_1\"}";

        HttpResponse<String> first = client.post("/notifications", key, body);
        HttpResponse<String> repeat = client.post("/notifications", key, body);

        assertThat(first.statusCode()).isEqualTo(200);
        assertThat(json(first).path("notification_id").asText()).startsWith("nt_");
        assertThat(json(first).path("payment_id").asText()).isEqualTo("pay-notify");
        assertThat(repeat.statusCode()).isEqualTo(200);
        assertThat(repeat.headers().firstValue(REPLAYED)).hasValue("true");
        assertThat(repeat.body()).isEqualTo(first.body());
        assertThat(countRows("SELECT count(*) FROM gateway_notifications WHERE payment_id = 'pay-notify'")).isEqualTo(1);
        assertThat(gateway.requestCounts("notifications")).containsEntry(key, 2);
        assertThat(gateway.requestCounts("charges")).doesNotContainKey(key);
    }

    @Test
    void answers422WhenAKeyIsReusedWithOtherParametersOrOnAnotherEndpoint() throws Exception {
        start(GatewaySettings.builder());
        String key = "pay-reuse:charge";
        HttpResponse<String> first = client.post("/charges", key, charge("pay-reuse", "acct-1", "10.00"));
        assertThat(first.statusCode()).isEqualTo(200);

        HttpResponse<String> otherAmount = client.post("/charges", key, charge("pay-reuse", "acct-1", "11.00"));
        HttpResponse<String> otherEndpoint = client.post("/notifications", key,
                "{\"payment_id\":\"pay-reuse\",\"account\":\"acct-1\",\"charge_id\":\"ch_1\"}");

        for (HttpResponse<String> reuse : List.of(otherAmount, otherEndpoint)) {
            assertThat(reuse.statusCode()).isEqualTo(422);
            assertThat(errorType(reuse)).isEqualTo("idempotency_key_reused");
            assertThat(reuse.headers().firstValue(REPLAYED)).isEmpty();
        }
        // The key still holds its first response.
        HttpResponse<String> repeat = client.post("/charges", key, charge("pay-reuse", "acct-1", "10.00"));
        assertThat(repeat.statusCode()).isEqualTo(200);
        assertThat(repeat.body()).isEqualTo(first.body());
        assertThat(gateway.effectiveCharges()).containsEntry("pay-reuse", 1);
        assertThat(countRows("SELECT count(*) FROM gateway_notifications WHERE payment_id = 'pay-reuse'")).isZero();
    }

    @Test
    void answers409ToARepeatWhileTheFirstRequestIsStillExecuting() throws Exception {
        String key = "pay-inuse:charge";
        CountDownLatch executing = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        start(GatewaySettings.builder().executionHook(holdWhileExecuting(key, executing, release)));
        String body = charge("pay-inuse", "acct-1", "5.00");

        CompletableFuture<HttpResponse<String>> first = client.postAsync("/charges", key, body);
        assertThat(executing.await(30, SECONDS)).as("first request executing").isTrue();

        HttpResponse<String> concurrent = client.post("/charges", key, body);
        assertThat(concurrent.statusCode()).isEqualTo(409);
        assertThat(errorType(concurrent)).isEqualTo("idempotency_key_in_use");
        assertThat(gateway.effectiveCharges()).doesNotContainKey("pay-inuse");

        release.countDown();
        HttpResponse<String> completed = first.get(30, SECONDS);
        assertThat(completed.statusCode()).isEqualTo(200);
        assertThat(completed.headers().firstValue(REPLAYED)).isEmpty();

        HttpResponse<String> retry = client.post("/charges", key, body);
        assertThat(retry.statusCode()).isEqualTo(200);
        assertThat(retry.headers().firstValue(REPLAYED)).hasValue("true");
        assertThat(retry.body()).isEqualTo(completed.body());
        assertThat(gateway.effectiveCharges()).containsEntry("pay-inuse", 1);
        assertThat(gateway.requestCounts("charges")).containsEntry(key, 3);
    }

    @Test
    void transient503RecordsNothingAndTheRetryExecutesOnce() throws Exception {
        String key = "pay-transient:charge";
        start(GatewaySettings.builder().faults(FaultPolicy.firstRequests("charges", key::equals, 2, Fault.TRANSIENT)));
        String body = charge("pay-transient", "acct-1", "7.00");

        for (int attempt = 1; attempt <= 2; attempt++) {
            HttpResponse<String> unavailable = client.post("/charges", key, body);
            assertThat(unavailable.statusCode()).isEqualTo(503);
            assertThat(errorType(unavailable)).isEqualTo("service_unavailable");
            assertThat(keyState(key)).as("nothing recorded for the key").isNull();
            assertThat(gateway.effectiveCharges()).doesNotContainKey("pay-transient");
        }
        HttpResponse<String> executed = client.post("/charges", key, body);
        HttpResponse<String> replayed = client.post("/charges", key, body);

        assertThat(executed.statusCode()).isEqualTo(200);
        assertThat(executed.headers().firstValue(REPLAYED)).isEmpty();
        assertThat(replayed.statusCode()).isEqualTo(200);
        assertThat(replayed.headers().firstValue(REPLAYED)).hasValue("true");
        assertThat(replayed.body()).isEqualTo(executed.body());
        assertThat(gateway.effectiveCharges()).containsEntry("pay-transient", 1);
        assertThat(gateway.requestCounts("charges")).containsEntry(key, 4);
    }

    @Test
    void aTimeoutLosesTheResponseButNotTheChargeAndTheRetryGetsItReplayed() throws Exception {
        String key = "pay-timeout:charge";
        start(GatewaySettings.builder().faults(FaultPolicy.firstRequests("charges", key::equals, 1, Fault.TIMEOUT)));
        String body = charge("pay-timeout", "acct-1", "9.99");

        assertThatThrownBy(() -> client.post("/charges", key, body)).isInstanceOf(IOException.class);
        // The ambiguous ack: the caller saw an error, yet the charge committed.
        assertThat(gateway.effectiveCharges()).containsEntry("pay-timeout", 1);

        HttpResponse<String> retry = client.post("/charges", key, body);
        assertThat(retry.statusCode()).isEqualTo(200);
        assertThat(retry.headers().firstValue(REPLAYED)).hasValue("true");
        assertThat(json(retry).path("charge_id").asText())
                .isEqualTo(queryString("SELECT charge_id FROM gateway_charges WHERE payment_id = 'pay-timeout'"));
        assertThat(gateway.effectiveCharges()).containsEntry("pay-timeout", 1);
        assertThat(gateway.requestCounts("charges")).containsEntry(key, 2);
    }

    @Test
    void declinesConfiguredAccountsWithAStoredAndReplayed402() throws Exception {
        start(GatewaySettings.builder().declineAccounts(List.of("acct-blocked")));
        String key = "pay-declined:charge";
        String body = charge("pay-declined", "acct-blocked", "20.00");

        HttpResponse<String> declined = client.post("/charges", key, body);
        HttpResponse<String> repeat = client.post("/charges", key, body);
        HttpResponse<String> otherAccount = client.post("/charges", "pay-accepted:charge",
                charge("pay-accepted", "acct-fine", "20.00"));

        assertThat(declined.statusCode()).isEqualTo(402);
        assertThat(errorType(declined)).isEqualTo("card_declined");
        assertThat(json(declined).path("error").path("payment_id").asText()).isEqualTo("pay-declined");
        assertThat(declined.headers().firstValue(REPLAYED)).isEmpty();
        assertThat(repeat.statusCode()).isEqualTo(402);
        assertThat(repeat.headers().firstValue(REPLAYED)).hasValue("true");
        assertThat(repeat.body()).isEqualTo(declined.body());
        assertThat(keyState(key)).isEqualTo("done 402");
        assertThat(gateway.effectiveCharges()).doesNotContainKey("pay-declined").containsEntry("pay-accepted", 1);
        assertThat(otherAccount.statusCode()).isEqualTo(200);
    }

    @Test
    void refusesBadRequestsWith400AndDoesNotStoreThem() throws Exception {
        start(GatewaySettings.builder());
        String key = "pay-bad:charge";

        HttpResponse<String> noKey = client.post("/charges", null, charge("pay-bad", "acct-1", "1.00"));
        assertThat(noKey.statusCode()).isEqualTo(400);
        assertThat(errorType(noKey)).isEqualTo("invalid_request");
        assertThat(json(noKey).path("error").path("message").asText()).contains("Idempotency-Key");

        Map<String, String> badBodies = Map.of(
                "not json", "payment_id=pay-bad",
                "not an object", "[1, 2]",
                "missing merchant", "{\"payment_id\":\"pay-bad\",\"account\":\"acct-1\",\"amount\":\"1.00\",\"currency\":\"EUR\"}",
                "amount not a number", charge("pay-bad", "acct-1", "abc"),
                "negative amount", charge("pay-bad", "acct-1", "-5.00"),
                "zero amount", charge("pay-bad", "acct-1", "0.00"),
                "amount in exponent form", charge("pay-bad", "acct-1", "1e3"),
                "amount as a JSON number", "{\"payment_id\":\"pay-bad\",\"account\":\"acct-1\",\"amount\":12.5,\"currency\":\"EUR\",\"merchant\":\"m-1\"}");
        for (Map.Entry<String, String> bad : badBodies.entrySet()) {
            HttpResponse<String> response = client.post("/charges", key, bad.getValue());
            assertThat(response.statusCode()).as(bad.getKey()).isEqualTo(400);
            assertThat(errorType(response)).as(bad.getKey()).isEqualTo("invalid_request");
            assertThat(response.headers().firstValue(REPLAYED)).as(bad.getKey()).isEmpty();
        }
        assertThat(keyState(key)).as("400s are not stored").isNull();

        HttpResponse<String> fixed = client.post("/charges", key, charge("pay-bad", "acct-1", "1.00"));
        assertThat(fixed.statusCode()).isEqualTo(200);
        assertThat(fixed.headers().firstValue(REPLAYED)).isEmpty();
        assertThat(gateway.effectiveCharges()).containsEntry("pay-bad", 1);
        assertThat(gateway.requestCounts("charges")).containsEntry(key, badBodies.size() + 1);

        assertThat(client.get("/charges").statusCode()).isEqualTo(405);
        assertThat(client.get("/refunds").statusCode()).isEqualTo(404);
    }

    @Test
    void releasesTheKeyWhenExecutionFailsSoTheRetryExecutes() throws Exception {
        String key = "pay-error:charge";
        AtomicInteger executions = new AtomicInteger();
        start(GatewaySettings.builder().executionHook((endpoint, k) -> {
            if (k.equals(key) && executions.incrementAndGet() == 1) {
                throw new IllegalStateException("injected failure in stage code");
            }
        }));
        String body = charge("pay-error", "acct-1", "3.00");

        HttpResponse<String> failed = client.post("/charges", key, body);
        assertThat(failed.statusCode()).isEqualTo(500);
        assertThat(errorType(failed)).isEqualTo("api_error");
        assertThat(keyState(key)).as("key released").isNull();
        assertThat(gateway.effectiveCharges()).doesNotContainKey("pay-error");

        HttpResponse<String> retry = client.post("/charges", key, body);
        assertThat(retry.statusCode()).isEqualTo(200);
        assertThat(retry.headers().firstValue(REPLAYED)).isEmpty();
        assertThat(gateway.effectiveCharges()).containsEntry("pay-error", 1);
        assertThat(executions).hasValue(2);
    }

    @Test
    void auditEndpointsReportEffectiveChargesAndRequestsPerKey() throws Exception {
        start(GatewaySettings.builder());
        // Two keys for one payment: the double charge a caller with unstable keys would cause.
        client.post("/charges", "pay-audit:charge", charge("pay-audit", "acct-1", "1.00"));
        client.post("/charges", "pay-audit:charge", charge("pay-audit", "acct-1", "1.00"));
        client.post("/charges", "pay-audit:charge:2", charge("pay-audit", "acct-1", "1.00"));

        HttpResponse<String> charges = client.get("/audit/charges");
        HttpResponse<String> requests = client.get("/audit/requests?endpoint=charges");
        HttpResponse<String> noEndpoint = client.get("/audit/requests");
        HttpResponse<String> health = client.get("/health");

        assertThat(charges.statusCode()).isEqualTo(200);
        assertThat(json(charges).path("pay-audit").asInt()).isEqualTo(2);
        assertThat(gateway.effectiveCharges()).containsEntry("pay-audit", 2);
        assertThat(requests.statusCode()).isEqualTo(200);
        assertThat(json(requests).path("pay-audit:charge").asInt()).isEqualTo(2);
        assertThat(json(requests).path("pay-audit:charge:2").asInt()).isEqualTo(1);
        assertThat(json(requests).size()).isEqualTo(2);
        assertThat(noEndpoint.statusCode()).isEqualTo(400);
        assertThat(health.statusCode()).isEqualTo(200);
    }

    @Test
    void aRepeatTakesOverAKeyLeftExecutingByADeadGateway() throws Exception {
        String key = "pay-stale:charge";
        String body = charge("pay-stale", "acct-1", "4.00");
        CountDownLatch executing = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        // A first gateway claims the key and hangs, as a crashed one would, past the stale timeout.
        GatewayServer hung = GatewayServer.start(GatewaySettings.builder()
                .staleExecutionTimeout(Duration.ofSeconds(1))
                .executionHook(holdWhileExecuting(key, executing, release))
                .build(), postgres.jdbcUrl());
        try {
            CompletableFuture<HttpResponse<String>> lost = new GatewayClient(hung.url()).postAsync("/charges", key, body);
            assertThat(executing.await(30, SECONDS)).isTrue();

            start(GatewaySettings.builder().staleExecutionTimeout(Duration.ofSeconds(1)));
            AtomicReference<HttpResponse<String>> takeover = new AtomicReference<>();
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200)).until(() -> {
                HttpResponse<String> response = client.post("/charges", key, body);
                takeover.set(response);
                assertThat(response.statusCode()).as(response.body()).isIn(200, 409);
                return response.statusCode() == 200;
            });
            assertThat(takeover.get().headers().firstValue(REPLAYED)).isEmpty();

            // The hung executor wakes up, finds its claim taken over and commits nothing.
            release.countDown();
            assertThat(lost.get(30, SECONDS).statusCode()).isEqualTo(500);
            assertThat(gateway.effectiveCharges()).containsEntry("pay-stale", 1);
            HttpResponse<String> repeat = client.post("/charges", key, body);
            assertThat(repeat.headers().firstValue(REPLAYED)).hasValue("true");
            assertThat(repeat.body()).isEqualTo(takeover.get().body());
        } finally {
            release.countDown();
            hung.close();
        }
    }

    @Test
    void manyConcurrentDistinctKeysEachChargeExactlyOnce() throws Exception {
        start(GatewaySettings.builder());
        int requests = 200;
        Semaphore inFlight = new Semaphore(50);
        List<CompletableFuture<HttpResponse<String>>> responses = new ArrayList<>();
        for (int i = 0; i < requests; i++) {
            inFlight.acquire();
            String paymentId = "pay-many-" + i;
            responses.add(client.postAsync("/charges", paymentId + ":charge", charge(paymentId, "acct-" + (i % 7), "1.00"))
                    .whenComplete((response, error) -> inFlight.release()));
        }

        Set<String> chargeIds = new HashSet<>();
        for (CompletableFuture<HttpResponse<String>> future : responses) {
            HttpResponse<String> response = future.get(60, SECONDS);
            assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
            chargeIds.add(json(response).path("charge_id").asText());
        }
        assertThat(chargeIds).hasSize(requests);
        Map<String, Integer> charges = gateway.effectiveCharges();
        for (int i = 0; i < requests; i++) {
            assertThat(charges).containsEntry("pay-many-" + i, 1);
        }
        assertThat(countRows("SELECT count(*) FROM gateway_charges WHERE payment_id LIKE 'pay-many-%'")).isEqualTo(requests);
    }

    @Test
    void serves100SlowRequestsInParallel() throws Exception {
        int requests = 100;
        // Every request waits inside execution until all 100 are there: a serializing server
        // would never get them all in, and the requests would fail instead of returning 200.
        CountDownLatch allExecuting = new CountDownLatch(requests);
        start(GatewaySettings.builder().latency(Duration.ofMillis(20)).executionHook((endpoint, key) -> {
            allExecuting.countDown();
            if (!allExecuting.await(30, SECONDS)) {
                throw new IllegalStateException("only " + (requests - allExecuting.getCount()) + " requests ran in parallel");
            }
        }));

        List<CompletableFuture<HttpResponse<String>>> responses = new ArrayList<>();
        for (int i = 0; i < requests; i++) {
            String paymentId = "pay-parallel-" + i;
            responses.add(client.postAsync("/charges", paymentId + ":charge", charge(paymentId, "acct-1", "2.00")));
        }
        for (CompletableFuture<HttpResponse<String>> future : responses) {
            HttpResponse<String> response = future.get(60, SECONDS);
            assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        }
        assertThat(countRows("SELECT count(*) FROM gateway_charges WHERE payment_id LIKE 'pay-parallel-%'")).isEqualTo(requests);
    }

    private static ExecutionHook holdWhileExecuting(String key, CountDownLatch executing, CountDownLatch release) {
        return (endpoint, k) -> {
            if (k.equals(key)) {
                executing.countDown();
                if (!release.await(60, SECONDS)) {
                    throw new IllegalStateException("the test never released " + key);
                }
            }
        };
    }

    /** {@code "<state> <status>"} of a key's row, {@code "executing"}, or null when absent. */
    private static String keyState(String key) throws SQLException {
        try (Connection c = DriverManager.getConnection(postgres.jdbcUrl());
                PreparedStatement s = c.prepareStatement(
                        "SELECT state, response_status FROM gateway_idempotency_keys WHERE idempotency_key = ?")) {
            s.setString(1, key);
            try (ResultSet rs = s.executeQuery()) {
                if (!rs.next()) {
                    return null;
                }
                return rs.getString(2) == null ? rs.getString(1) : rs.getString(1) + " " + rs.getInt(2);
            }
        }
    }

    private static int countRows(String sql) throws SQLException {
        return Integer.parseInt(queryString(sql));
    }

    private static String queryString(String sql) throws SQLException {
        try (Connection c = DriverManager.getConnection(postgres.jdbcUrl());
                PreparedStatement s = c.prepareStatement(sql);
                ResultSet rs = s.executeQuery()) {
            assertThat(rs.next()).as(sql).isTrue();
            return rs.getString(1);
        }
    }
}
