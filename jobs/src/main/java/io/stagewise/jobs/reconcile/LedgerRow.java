package io.stagewise.jobs.reconcile;

import java.math.BigDecimal;
import java.sql.ResultSet;
import java.sql.SQLException;

/** One row of the ledger as the reconcile job reads it. A POJO: never Kryo. */
public class LedgerRow {
    public String paymentId;
    public String eventId;
    public String account;
    public BigDecimal amount;
    /** Committed before the previous periodic run's snapshot ({@link PgSnapshot}); false in a full run. */
    public boolean before;

    public LedgerRow() {}

    /** From {@code SELECT payment_id, event_id, account, amount, <before>}. */
    static LedgerRow read(ResultSet row) throws SQLException {
        LedgerRow ledger = new LedgerRow();
        ledger.paymentId = row.getString(1);
        ledger.eventId = row.getString(2);
        ledger.account = row.getString(3);
        ledger.amount = row.getBigDecimal(4);
        ledger.before = row.getBoolean(5);
        return ledger;
    }

    /** The row as evidence for its event id: a row pointing at an event counts for that event, whatever its payment id. */
    Tally tally() {
        Tally tally = Tally.of(eventId);
        tally.ledgerRows = 1;
        tally.ledgerPaymentIds = paymentId;
        tally.ledgerRowsBefore = before ? 1 : 0;
        tally.window = !before;
        return tally;
    }
}
