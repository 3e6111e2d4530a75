package io.stagewise.jobs.payments.ledger;

import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Checks invariant 2 of docs/audit.md on the ledger tables: one ledger row per payment;
 * for every account {@code balances.balance = sum(ledger.amount)}; and, when given, that sum
 * equals the sum the producer generated for the account.
 *
 * <p>Delivery guarantee: none (a read-only check); it detects lost and duplicated ledger writes.
 */
public final class LedgerAudit {
    private LedgerAudit() {}

    /** Checks the ledger against itself (no expectations from the source). */
    public static Result check(Connection connection) throws SQLException {
        return check(connection, null, -1);
    }

    /**
     * @param expectedSums per account, the sum of amounts the source generated (null: not checked)
     * @param expectedPayments number of distinct payments the source generated (negative: not checked)
     */
    public static Result check(Connection connection, Map<String, BigDecimal> expectedSums, long expectedPayments)
            throws SQLException {
        List<String> problems = new ArrayList<>();
        long rows;
        long distinct;
        try (Statement st = connection.createStatement();
                ResultSet rs = st.executeQuery("SELECT count(*), count(DISTINCT payment_id) FROM " + LedgerWriter.LEDGER_TABLE)) {
            rs.next();
            rows = rs.getLong(1);
            distinct = rs.getLong(2);
        }
        if (rows != distinct) {
            problems.add((rows - distinct) + " duplicate ledger rows (" + rows + " rows, " + distinct + " payments)");
        }
        if (expectedPayments >= 0 && distinct != expectedPayments) {
            problems.add("ledger has " + distinct + " payments, the source generated " + expectedPayments);
        }
        Map<String, BigDecimal> ledgerSums = sums(connection, "SELECT account, sum(amount) FROM "
                + LedgerWriter.LEDGER_TABLE + " GROUP BY account");
        Map<String, BigDecimal> balances = sums(connection, "SELECT account, balance FROM " + LedgerWriter.BALANCES_TABLE);
        TreeSet<String> accounts = new TreeSet<>(ledgerSums.keySet());
        accounts.addAll(balances.keySet());
        if (expectedSums != null) {
            accounts.addAll(expectedSums.keySet());
        }
        for (String account : accounts) {
            BigDecimal sum = ledgerSums.getOrDefault(account, BigDecimal.ZERO);
            BigDecimal balance = balances.get(account);
            if (balance == null ? sum.signum() != 0 : balance.compareTo(sum) != 0) {
                problems.add("account " + account + ": balance " + plain(balance) + " != sum(ledger.amount) " + plain(sum));
            }
            if (expectedSums != null) {
                BigDecimal expected = expectedSums.getOrDefault(account, BigDecimal.ZERO);
                if (expected.compareTo(sum) != 0) {
                    problems.add("account " + account + ": sum(ledger.amount) " + plain(sum) + " != generated " + plain(expected));
                }
            }
        }
        return new Result(rows, distinct, accounts.size(), problems);
    }

    private static Map<String, BigDecimal> sums(Connection connection, String sql) throws SQLException {
        Map<String, BigDecimal> result = new TreeMap<>();
        try (Statement st = connection.createStatement(); ResultSet rs = st.executeQuery(sql)) {
            while (rs.next()) {
                result.put(rs.getString(1), rs.getBigDecimal(2));
            }
        }
        return result;
    }

    private static String plain(BigDecimal d) {
        return d == null ? "(no row)" : d.toPlainString();
    }

    /** What the audit found; {@link #toString()} is a readable report. */
    public record Result(long ledgerRows, long payments, int accounts, List<String> problems) {
        public Result {
            problems = List.copyOf(problems);
        }

        public boolean ok() {
            return problems.isEmpty();
        }

        @Override
        public String toString() {
            StringBuilder sb = new StringBuilder("ledger audit: ")
                    .append(ok() ? "OK" : "FAILED (" + problems.size() + " problems)")
                    .append(" - ").append(ledgerRows).append(" ledger rows, ").append(payments)
                    .append(" payments, ").append(accounts).append(" accounts");
            int shown = 0;
            for (String p : problems) {
                if (shown++ == 20) {
                    sb.append("\n  ... ").append(problems.size() - 20).append(" more");
                    break;
                }
                sb.append("\n  - ").append(p);
            }
            return sb.toString();
        }
    }
}
