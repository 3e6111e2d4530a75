package io.stagewise.gateway.internal;

import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/** What a request does when it executes: the rows it writes and the response it stores. */
public final class Effects {
    private final Set<String> declineAccounts;

    public Effects(Set<String> declineAccounts) {
        this.declineAccounts = Set.copyOf(declineAccounts);
    }

    /** Runs inside the transaction that stores the returned response under the request's key. */
    public StoredResponse execute(Connection c, String key, GatewayRequest request) throws SQLException {
        if (request instanceof GatewayRequest.Charge charge) {
            return charge(c, key, charge);
        }
        if (request instanceof GatewayRequest.Notification notification) {
            return notify(c, key, notification);
        }
        throw new IllegalArgumentException("no effect for " + request.getClass().getName());
    }

    private StoredResponse charge(Connection c, String key, GatewayRequest.Charge charge) throws SQLException {
        if (declineAccounts.contains(charge.account())) {
            // A definitive rejection: stored like a success, so every repeat sees the same answer.
            return new StoredResponse(402, Json.error("card_declined",
                    "the card of account " + charge.account() + " was declined",
                    Map.of("payment_id", charge.paymentId())));
        }
        String chargeId = "ch_" + randomId();
        try (PreparedStatement insert = c.prepareStatement("INSERT INTO " + IdempotencyStore.CHARGES_TABLE
                + " (charge_id, idempotency_key, payment_id, account, amount, currency, merchant)"
                + " VALUES (?, ?, ?, ?, ?, ?, ?)")) {
            insert.setString(1, chargeId);
            insert.setString(2, key);
            insert.setString(3, charge.paymentId());
            insert.setString(4, charge.account());
            insert.setBigDecimal(5, new BigDecimal(charge.amount()));
            insert.setString(6, charge.currency());
            insert.setString(7, charge.merchant());
            insert.executeUpdate();
        }
        return new StoredResponse(200, Json.bytes(Json.object()
                .put("charge_id", chargeId)
                .put("payment_id", charge.paymentId())
                .put("account", charge.account())
                .put("amount", charge.amount())
                .put("currency", charge.currency())));
    }

    private StoredResponse notify(Connection c, String key, GatewayRequest.Notification notification)
            throws SQLException {
        String notificationId = "nt_" + randomId();
        try (PreparedStatement insert = c.prepareStatement("INSERT INTO " + IdempotencyStore.NOTIFICATIONS_TABLE
                + " (notification_id, idempotency_key, payment_id, account, charge_id) VALUES (?, ?, ?, ?, ?)")) {
            insert.setString(1, notificationId);
            insert.setString(2, key);
            insert.setString(3, notification.paymentId());
            insert.setString(4, notification.account());
            insert.setString(5, notification.chargeId());
            insert.executeUpdate();
        }
        return new StoredResponse(200, Json.bytes(Json.object()
                .put("notification_id", notificationId)
                .put("payment_id", notification.paymentId())));
    }

    private static String randomId() {
        return UUID.randomUUID().toString().replace("-", "");
    }
}
