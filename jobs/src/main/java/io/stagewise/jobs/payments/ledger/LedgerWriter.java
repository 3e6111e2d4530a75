package io.stagewise.jobs.payments.ledger;

import io.stagewise.sinks.postgres.RowWriter;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.sql.Types;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Writes ledger entries into the tables of docs/payments.md:
 * {@code ledger(payment_id PRIMARY KEY, event_id, account, amount, currency, charge_id, applied_at)}
 * and {@code balances(account PRIMARY KEY, balance)}, money as {@code NUMERIC}.
 *
 * <p>Delivery guarantee: exactly once when used in a {@link io.stagewise.sinks.postgres.PostgresSink}
 * (ledger rows and balance changes of a checkpoint commit together). Deliberately not idempotent on
 * its own: the ledger insert is a plain INSERT, so a payment written twice fails loudly on the
 * primary key instead of being hidden, and balances are {@code balance = balances.balance +
 * amount}, so a double apply would show in the audit ({@link LedgerAudit}).
 */
public final class LedgerWriter implements RowWriter<LedgerEntry> {
    private static final long serialVersionUID = 1L;

    public static final String LEDGER_TABLE = "ledger";
    public static final String BALANCES_TABLE = "balances";

    private static final String INSERT_LEDGER = "INSERT INTO " + LEDGER_TABLE
            + " (payment_id, event_id, account, amount, currency, charge_id, applied_at) VALUES (?, ?, ?, ?, ?, ?, ?)";
    private static final String UPSERT_BALANCE = "INSERT INTO " + BALANCES_TABLE + " (account, balance) VALUES (?, ?) "
            + "ON CONFLICT (account) DO UPDATE SET balance = " + BALANCES_TABLE + ".balance + EXCLUDED.balance";

    @Override
    public void createSchema(Connection connection) throws SQLException {
        try (Statement st = connection.createStatement()) {
            st.execute("CREATE TABLE IF NOT EXISTS " + LEDGER_TABLE + " ("
                    + "payment_id TEXT PRIMARY KEY, "
                    + "event_id TEXT NOT NULL, "
                    + "account TEXT NOT NULL, "
                    + "amount NUMERIC NOT NULL, "
                    + "currency TEXT NOT NULL, "
                    + "charge_id TEXT, "
                    + "applied_at TIMESTAMPTZ NOT NULL)");
            st.execute("CREATE TABLE IF NOT EXISTS " + BALANCES_TABLE + " ("
                    + "account TEXT PRIMARY KEY, "
                    + "balance NUMERIC NOT NULL)");
        }
    }

    @Override
    public void write(Connection connection, List<LedgerEntry> rows) throws SQLException {
        // Balance deltas are summed per account and applied in account order: one row update per
        // account per transaction instead of one per payment, and every transaction takes its
        // balance locks in the same order, so two of them can wait but never deadlock.
        Map<String, BigDecimal> deltas = new TreeMap<>();
        try (PreparedStatement ledger = connection.prepareStatement(INSERT_LEDGER)) {
            for (LedgerEntry e : rows) {
                ledger.setString(1, e.paymentId);
                ledger.setString(2, e.eventId);
                ledger.setString(3, e.account);
                ledger.setBigDecimal(4, e.amount);
                ledger.setString(5, e.currency);
                if (e.chargeId == null) {
                    ledger.setNull(6, Types.VARCHAR);
                } else {
                    ledger.setString(6, e.chargeId);
                }
                ledger.setTimestamp(7, Timestamp.from(e.appliedAt));
                ledger.addBatch();
                deltas.merge(e.account, e.amount, BigDecimal::add);
            }
            ledger.executeBatch();
        }
        try (PreparedStatement balance = connection.prepareStatement(UPSERT_BALANCE)) {
            for (Map.Entry<String, BigDecimal> d : deltas.entrySet()) {
                balance.setString(1, d.getKey());
                balance.setBigDecimal(2, d.getValue());
                balance.addBatch();
            }
            balance.executeBatch();
        }
    }
}
