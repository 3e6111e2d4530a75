package io.stagewise.jobs.payments.ledger;

import io.stagewise.sinks.postgres.PostgresSink;
import io.stagewise.sinks.postgres.RowWriter;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.MetricGroup;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes ledger entries into the tables of docs/payments.md:
 * {@code ledger(payment_id PRIMARY KEY, event_id, account, amount, currency, charge_id, applied_at)}
 * and {@code balances(account PRIMARY KEY, balance)}, money as {@code NUMERIC}.
 *
 * <p>Delivery guarantee: each {@code payment_id} is applied at most once, and exactly once when used
 * in a {@link PostgresSink} (ledger rows and balance changes of a checkpoint commit together). A
 * payment completed a second time (its id seen again after the dedup TTL, a DLQ replay repeated
 * after it, the same id under another business key) conflicts on the primary key: the row is
 * skipped ({@code ON CONFLICT (payment_id) DO NOTHING}), its balance delta is not applied, a WARN
 * names the payment, and {@code stagewise.ledgerConflicts} counts it. A conflict never fails the
 * sink, so one re-sent payment cannot crash-loop the job. Balances stay deliberately not
 * idempotent ({@code balance = balances.balance + amount}) and are changed only by rows this
 * transaction actually inserted, so a double apply from any other path still shows in the audit
 * ({@link LedgerAudit}).
 */
public final class LedgerWriter implements RowWriter<LedgerEntry> {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(LedgerWriter.class);

    public static final String LEDGER_TABLE = "ledger";
    public static final String BALANCES_TABLE = "balances";

    /** Metric (group {@code stagewise}): ledger rows skipped because their payment_id was already applied. */
    public static final String CONFLICTS_METRIC = "ledgerConflicts";

    /**
     * One statement for the whole batch; RETURNING lists exactly the rows inserted, so a payment
     * already in the ledger (or twice in this batch) gets no balance delta.
     */
    private static final String INSERT_LEDGER = "INSERT INTO " + LEDGER_TABLE
            + " (payment_id, event_id, account, amount, currency, charge_id, applied_at)"
            + " SELECT p, e, a, amt::numeric, cur, ch, at::timestamptz"
            + " FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[])"
            + " AS batch(p, e, a, amt, cur, ch, at)"
            + " ON CONFLICT (payment_id) DO NOTHING RETURNING payment_id";
    private static final String UPSERT_BALANCE = "INSERT INTO " + BALANCES_TABLE + " (account, balance) VALUES (?, ?) "
            + "ON CONFLICT (account) DO UPDATE SET balance = " + BALANCES_TABLE + ".balance + EXCLUDED.balance";

    private transient Counter conflicts;

    @Override
    public void open(MetricGroup metrics) {
        conflicts = metrics.counter(CONFLICTS_METRIC);
    }

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
        // The first entry of a payment_id in the batch is the one inserted (unnest keeps order).
        Map<String, LedgerEntry> firstByPayment = new LinkedHashMap<>();
        for (LedgerEntry e : rows) {
            firstByPayment.putIfAbsent(e.paymentId, e);
        }
        Set<String> inserted = insertLedgerRows(connection, rows);
        int skipped = rows.size() - inserted.size();
        if (skipped > 0) {
            reportConflicts(rows, inserted);
        }
        // Balance deltas are summed per account and applied in account order: one row update per
        // account per transaction instead of one per payment, and every transaction takes its
        // balance locks in the same order, so two of them can wait but never deadlock.
        Map<String, BigDecimal> deltas = new TreeMap<>();
        for (String paymentId : inserted) {
            LedgerEntry e = firstByPayment.get(paymentId);
            deltas.merge(e.account, e.amount, BigDecimal::add);
        }
        if (deltas.isEmpty()) {
            return;
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

    private static Set<String> insertLedgerRows(Connection connection, List<LedgerEntry> rows) throws SQLException {
        int n = rows.size();
        String[] paymentIds = new String[n];
        String[] eventIds = new String[n];
        String[] accounts = new String[n];
        String[] amounts = new String[n];
        String[] currencies = new String[n];
        String[] chargeIds = new String[n];
        String[] appliedAt = new String[n];
        for (int i = 0; i < n; i++) {
            LedgerEntry e = rows.get(i);
            paymentIds[i] = e.paymentId;
            eventIds[i] = e.eventId;
            accounts[i] = e.account;
            amounts[i] = e.amount == null ? null : e.amount.toPlainString();
            currencies[i] = e.currency;
            chargeIds[i] = e.chargeId;
            appliedAt[i] = e.appliedAt == null ? null : e.appliedAt.toString(); // ISO-8601 UTC: no time zone guess
        }
        Set<String> inserted = new HashSet<>();
        try (PreparedStatement ledger = connection.prepareStatement(INSERT_LEDGER)) {
            ledger.setArray(1, connection.createArrayOf("text", paymentIds));
            ledger.setArray(2, connection.createArrayOf("text", eventIds));
            ledger.setArray(3, connection.createArrayOf("text", accounts));
            ledger.setArray(4, connection.createArrayOf("text", amounts));
            ledger.setArray(5, connection.createArrayOf("text", currencies));
            ledger.setArray(6, connection.createArrayOf("text", chargeIds));
            ledger.setArray(7, connection.createArrayOf("text", appliedAt));
            try (ResultSet rs = ledger.executeQuery()) {
                while (rs.next()) {
                    inserted.add(rs.getString(1));
                }
            }
        }
        return inserted;
    }

    private void reportConflicts(List<LedgerEntry> rows, Set<String> inserted) {
        Set<String> seen = new HashSet<>();
        for (LedgerEntry e : rows) {
            boolean applied = inserted.contains(e.paymentId) && seen.add(e.paymentId);
            if (!applied) {
                if (conflicts != null) {
                    conflicts.inc();
                }
                LOG.warn("Ledger already holds payment_id {} (event id {}, account {}, amount {} {}): the repeat is "
                                + "skipped and its balance delta not applied. A payment completes twice when its id "
                                + "comes back after --dedup-ttl or a DLQ replay is repeated (docs/payments.md); counted "
                                + "in stagewise.{}", e.paymentId, e.eventId, e.account,
                        e.amount == null ? null : e.amount.toPlainString(), e.currency, CONFLICTS_METRIC);
            }
        }
    }
}
