package io.stagewise.jobs.payments;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.stagewise.operators.stage.BatchSettings;
import io.stagewise.operators.stage.PermanentStageException;
import io.stagewise.operators.stage.StageContext;
import io.stagewise.operators.stage.Workflow;
import io.stagewise.operators.stage.http.HttpBatchCall;
import io.stagewise.operators.stage.http.HttpStage;
import java.math.BigDecimal;
import java.util.Set;

/**
 * The reference workflow (docs/payments.md): {@code validate} (local) → {@code charge}
 * ({@code POST /charges}) → {@code notify} ({@code POST /notifications}, or batched through
 * {@code POST /notifications/batch}), each call (each batch item) carrying the idempotency key
 * {@code <event id>:<stage>}. Both notify endpoints store one response per key and replay each
 * other's, so turning batching on or off across a restore keeps every notification single.
 */
public final class PaymentsWorkflow {
    public static final String NAME = "payments";
    public static final String VALIDATE = "validate";
    public static final String CHARGE = "charge";
    public static final String NOTIFY = "notify";
    public static final Set<String> CURRENCIES = Set.of("EUR", "USD", "GBP", "CHF", "JPY", "SEK", "NOK", "DKK", "PLN", "CZK");

    private static final ObjectMapper JSON = new ObjectMapper();

    private PaymentsWorkflow() {}

    /** With single calls for every stage ({@code --batching off}). */
    public static Workflow create(String gatewayUrl) {
        return create(gatewayUrl, null);
    }

    /**
     * @param batching how {@code notify} batches its calls to {@code POST /notifications/batch}, or
     *     null for one {@code POST /notifications} per event
     */
    public static Workflow create(String gatewayUrl, BatchSettings batching) {
        String base = gatewayUrl.endsWith("/") ? gatewayUrl.substring(0, gatewayUrl.length() - 1) : gatewayUrl;
        Workflow.Builder workflow = Workflow.named(NAME)
                .local(VALIDATE, PaymentsWorkflow::validate)
                .remote(CHARGE, new HttpStage(base + "/charges", PaymentsWorkflow::chargeRequest));
        if (batching == null) {
            workflow.remote(NOTIFY, new HttpStage(base + "/notifications", PaymentsWorkflow::notifyRequest));
        } else {
            workflow.batched(NOTIFY, new HttpBatchCall(base + "/notifications/batch", PaymentsWorkflow::notifyRequest),
                    batching);
        }
        return workflow.build();
    }

    /**
     * The {@code validate} stage: permanent failure on a missing account, an amount that is not a
     * positive number, an unknown currency. Public so other workflows (the stage benchmark) reuse it.
     */
    public static JsonNode validate(StageContext ctx) {
        JsonNode payload = ctx.payload();
        String account = payload.path("account").asText("");
        if (account.isEmpty()) {
            throw new PermanentStageException("payment " + ctx.eventId() + " has no account");
        }
        BigDecimal amount;
        try {
            amount = new BigDecimal(payload.path("amount").asText(""));
        } catch (NumberFormatException e) {
            throw new PermanentStageException("payment " + ctx.eventId() + " has no valid amount: '"
                    + payload.path("amount").asText("") + "'");
        }
        if (amount.signum() <= 0) {
            throw new PermanentStageException("payment " + ctx.eventId() + " has amount " + amount.toPlainString() + " <= 0");
        }
        String currency = payload.path("currency").asText("");
        if (!CURRENCIES.contains(currency)) {
            throw new PermanentStageException("payment " + ctx.eventId() + " has unknown currency '" + currency + "'");
        }
        ObjectNode out = JSON.createObjectNode();
        out.put("account", account);
        out.put("amount", amount.toPlainString());
        out.put("currency", currency);
        out.put("merchant", payload.path("merchant").asText(""));
        return out;
    }

    static JsonNode chargeRequest(StageContext ctx) {
        JsonNode valid = ctx.output(VALIDATE);
        ObjectNode body = JSON.createObjectNode();
        body.put("payment_id", ctx.eventId());
        body.put("account", valid.path("account").asText());
        body.put("amount", valid.path("amount").asText());
        body.put("currency", valid.path("currency").asText());
        body.put("merchant", valid.path("merchant").asText());
        return body;
    }

    static JsonNode notifyRequest(StageContext ctx) {
        ObjectNode body = JSON.createObjectNode();
        body.put("payment_id", ctx.eventId());
        body.put("account", ctx.output(VALIDATE).path("account").asText());
        body.put("charge_id", ctx.output(CHARGE).path("charge_id").asText());
        return body;
    }
}
