package io.stagewise.gateway.internal;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.regex.Pattern;

/**
 * A validated {@code POST} body. {@link #requestHash()} identifies "the same request" for
 * idempotency: SHA-256 of the endpoint and the canonical form of the known fields (sorted, amounts
 * without trailing zeros), so key order, whitespace, unknown fields and {@code 12.5} vs
 * {@code 12.50} do not count as a different request.
 */
public sealed interface GatewayRequest {
    int MAX_FIELD_LENGTH = 255;
    int MAX_BODY_BYTES = 64 * 1024;

    Endpoint endpoint();

    String canonicalForm();

    default String requestHash() {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            byte[] digest = sha.digest((endpoint().id() + "\n" + canonicalForm()).getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(digest);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JVM has SHA-256", e);
        }
    }

    /** {@code POST /charges}: {@code amount} is a positive decimal string such as {@code "12.50"}. */
    record Charge(String paymentId, String account, String amount, String currency, String merchant)
            implements GatewayRequest {
        @Override
        public Endpoint endpoint() {
            return Endpoint.CHARGES;
        }

        @Override
        public String canonicalForm() {
            return Json.object()
                    .put("account", account)
                    .put("amount", new BigDecimal(amount).stripTrailingZeros().toPlainString())
                    .put("currency", currency)
                    .put("merchant", merchant)
                    .put("payment_id", paymentId)
                    .toString();
        }
    }

    /** {@code POST /notifications}. */
    record Notification(String paymentId, String account, String chargeId) implements GatewayRequest {
        @Override
        public Endpoint endpoint() {
            return Endpoint.NOTIFICATIONS;
        }

        @Override
        public String canonicalForm() {
            return Json.object()
                    .put("account", account)
                    .put("charge_id", chargeId)
                    .put("payment_id", paymentId)
                    .toString();
        }
    }

    Pattern AMOUNT = Pattern.compile("\\d{1,18}(\\.\\d{1,18})?");

    static GatewayRequest parse(Endpoint endpoint, byte[] body) throws InvalidRequestException {
        if (body.length > MAX_BODY_BYTES) {
            throw new InvalidRequestException("the body is larger than " + MAX_BODY_BYTES + " bytes");
        }
        JsonNode json;
        try {
            json = Json.MAPPER.readTree(body);
        } catch (JacksonException e) {
            throw new InvalidRequestException("the body is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new InvalidRequestException("the body cannot be read: " + e.getMessage());
        }
        if (json == null || !json.isObject()) {
            throw new InvalidRequestException("the body must be a JSON object");
        }
        switch (endpoint) {
            case CHARGES: {
                String paymentId = field(json, "payment_id");
                String account = field(json, "account");
                String amount = field(json, "amount");
                String currency = field(json, "currency");
                String merchant = field(json, "merchant");
                if (!AMOUNT.matcher(amount).matches() || new BigDecimal(amount).signum() <= 0) {
                    throw new InvalidRequestException("amount must be a positive decimal string such as \"12.50\", got \""
                            + amount + "\"");
                }
                return new Charge(paymentId, account, amount, currency, merchant);
            }
            case NOTIFICATIONS:
                return new Notification(field(json, "payment_id"), field(json, "account"), field(json, "charge_id"));
            default:
                throw new IllegalArgumentException("no body format for endpoint " + endpoint);
        }
    }

    private static String field(JsonNode json, String name) throws InvalidRequestException {
        JsonNode value = json.get(name);
        if (value == null || value.isNull()) {
            throw new InvalidRequestException("missing field " + name);
        }
        if (!value.isTextual()) {
            throw new InvalidRequestException("field " + name + " must be a string");
        }
        String text = value.textValue();
        if (text.isBlank() || text.length() > MAX_FIELD_LENGTH) {
            throw new InvalidRequestException("field " + name + " must hold 1 to " + MAX_FIELD_LENGTH + " characters");
        }
        return text;
    }
}
