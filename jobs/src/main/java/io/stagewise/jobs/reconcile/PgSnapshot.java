package io.stagewise.jobs.reconcile;

import io.stagewise.jobs.StagewiseException;
import java.io.Serializable;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/**
 * A PostgreSQL snapshot ({@code pg_current_snapshot()}, text form {@code xmin:xmax:xip,...}): which
 * transactions had committed when a periodic reconciliation took its watermark. A row is "before"
 * a snapshot when the transaction that inserted it is visible in it, whatever its timestamps say:
 * a prepared transaction of the ledger sink can commit long after its rows were written, so an
 * {@code applied_at} watermark could miss rows, and snapshot visibility cannot (docs/reconcile.md).
 *
 * <p>Limit: a row's {@code xmin} is a 32-bit transaction id; its 64-bit id is inferred relative to
 * the reading transaction, which is exact for rows younger than 2^32 transactions.
 */
public record PgSnapshot(long xmin, long xmax, List<Long> inProgress) implements Serializable {
    private static final long EPOCH = 1L << 32;

    /** Parses {@code xmin:xmax:xip,xip}. */
    public static PgSnapshot parse(String text) {
        String[] parts = text.trim().split(":", -1);
        if (parts.length != 3) {
            throw new IllegalArgumentException("not a pg_snapshot: '" + text + "'");
        }
        List<Long> xip = new ArrayList<>();
        if (!parts[2].isEmpty()) {
            for (String x : parts[2].split(",")) {
                xip.add(Long.parseLong(x.trim()));
            }
        }
        return new PgSnapshot(Long.parseLong(parts[0]), Long.parseLong(parts[1]), List.copyOf(xip));
    }

    /** The database's current snapshot. */
    public static PgSnapshot take(Connection connection) throws SQLException {
        try (Statement st = connection.createStatement(); ResultSet rs = st.executeQuery("SELECT pg_current_snapshot()::text")) {
            rs.next();
            return parse(rs.getString(1));
        } catch (IllegalArgumentException e) {
            throw new StagewiseException("unexpected pg_current_snapshot(): " + e.getMessage(), e);
        }
    }

    /**
     * A boolean SQL expression: the row's inserting transaction is visible in this snapshot. Only
     * numbers from this record reach the SQL text.
     */
    public String visibleSql() {
        String reference = "(SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint)";
        String sameEpoch = "(((" + reference + " >> 32) << 32) + xmin::text::bigint)";
        String full = "(" + sameEpoch + " - CASE WHEN " + sameEpoch + " >= " + reference + " THEN " + EPOCH + " ELSE 0 END)";
        StringBuilder sql = new StringBuilder("(").append(full).append(" < ").append(xmin)
                .append(" OR (").append(full).append(" < ").append(xmax);
        if (!inProgress.isEmpty()) {
            sql.append(" AND ").append(full).append(" NOT IN (");
            for (int i = 0; i < inProgress.size(); i++) {
                sql.append(i == 0 ? "" : ", ").append(inProgress.get(i));
            }
            sql.append(')');
        }
        return sql.append("))").toString();
    }

    @Override
    public String toString() {
        StringBuilder text = new StringBuilder().append(xmin).append(':').append(xmax).append(':');
        for (int i = 0; i < inProgress.size(); i++) {
            text.append(i == 0 ? "" : ",").append(inProgress.get(i));
        }
        return text.toString();
    }
}
