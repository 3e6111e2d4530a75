package io.stagewise.gateway.internal;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import javax.sql.DataSource;

/**
 * Idempotency keys, their stored responses and the effects they guard, in PostgreSQL.
 *
 * <p>A key goes through (1) {@link #claim}: recorded as {@code executing} with the request's hash,
 * in its own committed statement, so exactly one request owns it; (2) {@link #complete}: the
 * effect (a charge row, a notification row, or nothing for a decline) and the stored response
 * commit in one transaction, so no crash leaves an effect without its response or the reverse;
 * or (2') {@link #release}: the claim is deleted after a failed execution, so a retry can run.
 *
 * <p>Each claim carries a random token; (2) and (2') act only while the token still holds the key.
 * A key left {@code executing} by a dead gateway is taken over by a repeat after the stale
 * timeout, and the dead executor, should it wake up, finds its token gone and commits nothing.
 *
 * <p>Keys are kept for ever: no pruning yet. Stripe prunes after 24 hours; a pruned key would let
 * a late retry charge again, so pruning must wait longer than any client retries (DLQ replays
 * included).
 */
public final class IdempotencyStore {
    public static final String KEYS_TABLE = "gateway_idempotency_keys";
    public static final String CHARGES_TABLE = "gateway_charges";
    public static final String NOTIFICATIONS_TABLE = "gateway_notifications";

    private static final String[] SCHEMA = {
        "CREATE TABLE IF NOT EXISTS " + KEYS_TABLE + " ("
                + " idempotency_key text PRIMARY KEY,"
                + " endpoint text NOT NULL,"
                + " request_hash text NOT NULL,"
                + " state text NOT NULL CHECK (state IN ('executing', 'done')),"
                + " claim_token text,"
                + " locked_at timestamptz NOT NULL DEFAULT now(),"
                + " response_status integer,"
                + " response_body bytea,"
                + " created_at timestamptz NOT NULL DEFAULT now(),"
                + " completed_at timestamptz,"
                + " CHECK (state = 'executing' OR (response_status IS NOT NULL AND response_body IS NOT NULL)))",
        "CREATE TABLE IF NOT EXISTS " + CHARGES_TABLE + " ("
                + " charge_id text PRIMARY KEY,"
                + " idempotency_key text NOT NULL UNIQUE REFERENCES " + KEYS_TABLE + " (idempotency_key),"
                + " payment_id text NOT NULL,"
                + " account text NOT NULL,"
                + " amount numeric NOT NULL CHECK (amount > 0),"
                + " currency text NOT NULL,"
                + " merchant text NOT NULL,"
                + " created_at timestamptz NOT NULL DEFAULT now())",
        "CREATE INDEX IF NOT EXISTS " + CHARGES_TABLE + "_payment_id ON " + CHARGES_TABLE + " (payment_id)",
        "CREATE TABLE IF NOT EXISTS " + NOTIFICATIONS_TABLE + " ("
                + " notification_id text PRIMARY KEY,"
                + " idempotency_key text NOT NULL UNIQUE REFERENCES " + KEYS_TABLE + " (idempotency_key),"
                + " payment_id text NOT NULL,"
                + " account text NOT NULL,"
                + " charge_id text NOT NULL,"
                + " created_at timestamptz NOT NULL DEFAULT now())",
    };

    /** A lock id of our own, so that two gateways starting on one database create the tables once. */
    private static final long SCHEMA_LOCK = 0x5354_4147_4557_4159L;

    /** After this many rounds of "claimed by someone, then released", answer 409 and let the client retry. */
    private static final int CLAIM_ROUNDS = 3;

    private final DataSource dataSource;
    private final Duration staleExecutionTimeout;

    public IdempotencyStore(DataSource dataSource, Duration staleExecutionTimeout) {
        this.dataSource = dataSource;
        this.staleExecutionTimeout = staleExecutionTimeout;
    }

    /** The outcome of {@link #claim}. */
    public sealed interface Claim {}

    /** This request owns the key and must {@link #complete} or {@link #release} it with {@code token}. */
    public record Claimed(String token, boolean tookOverStaleClaim) implements Claim {}

    /** Another request holds the key: still {@code executing} ({@code response == null}) or done. */
    public record Existing(String requestHash, StoredResponse response) implements Claim {
        public boolean done() {
            return response != null;
        }
    }

    /** Runs inside the transaction that stores the response; must not commit or roll back. */
    @FunctionalInterface
    public interface Effect {
        StoredResponse apply(Connection connection) throws SQLException;
    }

    /** The claim was taken over (the key looked stale) before this executor committed. */
    public static final class LostClaimException extends IllegalStateException {
        private static final long serialVersionUID = 1L;

        LostClaimException(String key) {
            super("the claim on Idempotency-Key " + key + " was taken over before its effect committed"
                    + " (executing longer than staleExecutionTimeout?); nothing was committed");
        }
    }

    public void createTables() throws SQLException {
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            try (Statement s = c.createStatement()) {
                s.execute("SELECT pg_advisory_xact_lock(" + SCHEMA_LOCK + ")");
                for (String ddl : SCHEMA) {
                    s.execute(ddl);
                }
                c.commit();
            } catch (SQLException | RuntimeException e) {
                c.rollback();
                throw e;
            }
        }
    }

    public Claim claim(String key, String endpoint, String requestHash) throws SQLException {
        String token = UUID.randomUUID().toString();
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(true);
            for (int round = 0; round < CLAIM_ROUNDS; round++) {
                // (1) A new key is inserted; a stale executing claim with the same parameters is taken
                //     over. Both in one statement, so two repeats cannot both take over.
                try (PreparedStatement insert = c.prepareStatement("INSERT INTO " + KEYS_TABLE + " AS k"
                        + " (idempotency_key, endpoint, request_hash, state, claim_token, locked_at)"
                        + " VALUES (?, ?, ?, 'executing', ?, now())"
                        + " ON CONFLICT (idempotency_key) DO UPDATE"
                        + " SET claim_token = EXCLUDED.claim_token, locked_at = now()"
                        + " WHERE k.state = 'executing' AND k.request_hash = EXCLUDED.request_hash"
                        + " AND k.locked_at < now() - make_interval(secs => ?)"
                        + " RETURNING k.created_at = now() AS inserted")) {
                    insert.setString(1, key);
                    insert.setString(2, endpoint);
                    insert.setString(3, requestHash);
                    insert.setString(4, token);
                    insert.setDouble(5, staleExecutionTimeout.toMillis() / 1000.0);
                    try (ResultSet rs = insert.executeQuery()) {
                        if (rs.next()) {
                            return new Claimed(token, !rs.getBoolean(1));
                        }
                    }
                }
                // (2) Someone else holds it: report what they hold.
                try (PreparedStatement select = c.prepareStatement("SELECT request_hash, state, response_status,"
                        + " response_body FROM " + KEYS_TABLE + " WHERE idempotency_key = ?")) {
                    select.setString(1, key);
                    try (ResultSet rs = select.executeQuery()) {
                        if (rs.next()) {
                            StoredResponse response = "done".equals(rs.getString(2))
                                    ? new StoredResponse(rs.getInt(3), rs.getBytes(4))
                                    : null;
                            return new Existing(rs.getString(1), response);
                        }
                    }
                }
                // (3) Released between (1) and (2) after a failed execution: claim again.
            }
        }
        return new Existing(requestHash, null);
    }

    /** Runs {@code effect} and stores its response under {@code key} in one transaction. */
    public StoredResponse complete(String key, String token, Effect effect) throws SQLException {
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            try {
                // Lock the key row first: a takeover then either happened already (we see it and
                // stop) or waits for our commit and finds the key done.
                try (PreparedStatement lock = c.prepareStatement("SELECT 1 FROM " + KEYS_TABLE
                        + " WHERE idempotency_key = ? AND claim_token = ? AND state = 'executing' FOR UPDATE")) {
                    lock.setString(1, key);
                    lock.setString(2, token);
                    try (ResultSet rs = lock.executeQuery()) {
                        if (!rs.next()) {
                            throw new LostClaimException(key);
                        }
                    }
                }
                StoredResponse response = effect.apply(c);
                try (PreparedStatement done = c.prepareStatement("UPDATE " + KEYS_TABLE
                        + " SET state = 'done', response_status = ?, response_body = ?, claim_token = NULL,"
                        + " completed_at = now() WHERE idempotency_key = ?")) {
                    done.setInt(1, response.status());
                    done.setBytes(2, response.body());
                    done.setString(3, key);
                    done.executeUpdate();
                }
                c.commit();
                return response;
            } catch (SQLException | RuntimeException e) {
                try {
                    c.rollback();
                } catch (SQLException rollbackFailure) {
                    e.addSuppressed(rollbackFailure);
                }
                throw e;
            }
        }
    }

    /** Deletes this request's {@code executing} claim; false if it no longer held the key. */
    public boolean release(String key, String token) throws SQLException {
        try (Connection c = dataSource.getConnection();
                PreparedStatement delete = c.prepareStatement("DELETE FROM " + KEYS_TABLE
                        + " WHERE idempotency_key = ? AND claim_token = ? AND state = 'executing'")) {
            c.setAutoCommit(true);
            delete.setString(1, key);
            delete.setString(2, token);
            return delete.executeUpdate() == 1;
        }
    }

    /** Committed charges per payment id, sorted by payment id. */
    public Map<String, Integer> effectiveCharges() throws SQLException {
        return countByPayment(CHARGES_TABLE);
    }

    /** Committed notifications per payment id, sorted by payment id. */
    public Map<String, Integer> effectiveNotifications() throws SQLException {
        return countByPayment(NOTIFICATIONS_TABLE);
    }

    private Map<String, Integer> countByPayment(String table) throws SQLException {
        Map<String, Integer> charges = new TreeMap<>();
        try (Connection c = dataSource.getConnection();
                Statement s = c.createStatement();
                ResultSet rs = s.executeQuery("SELECT payment_id, count(*) FROM " + table + " GROUP BY payment_id")) {
            while (rs.next()) {
                charges.put(rs.getString(1), rs.getInt(2));
            }
        }
        return charges;
    }
}
