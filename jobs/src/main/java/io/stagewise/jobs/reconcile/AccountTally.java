package io.stagewise.jobs.reconcile;

import java.math.BigDecimal;
import java.sql.ResultSet;
import java.sql.SQLException;

/** Per account: the sum of its ledger amounts and its balance row, reduced by account. A POJO: never Kryo. */
public class AccountTally {
    public String account;
    public BigDecimal ledgerSum;
    public BigDecimal balance;

    public AccountTally() {}

    static AccountTally ledgerRow(LedgerRow row) {
        AccountTally tally = new AccountTally();
        tally.account = row.account;
        tally.ledgerSum = row.amount;
        return tally;
    }

    /** From {@code SELECT account, balance}. */
    static AccountTally balanceRow(ResultSet row) throws SQLException {
        AccountTally tally = new AccountTally();
        tally.account = row.getString(1);
        tally.balance = row.getBigDecimal(2);
        return tally;
    }

    static AccountTally merge(AccountTally a, AccountTally b) {
        AccountTally m = new AccountTally();
        m.account = a.account;
        m.ledgerSum = a.ledgerSum == null ? b.ledgerSum : b.ledgerSum == null ? a.ledgerSum : a.ledgerSum.add(b.ledgerSum);
        m.balance = a.balance != null ? a.balance : b.balance;
        return m;
    }
}
