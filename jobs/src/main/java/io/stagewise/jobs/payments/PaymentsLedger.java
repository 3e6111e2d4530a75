package io.stagewise.jobs.payments;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.stagewise.operators.event.CompletedEvent;
import io.stagewise.sinks.postgres.PostgresSink;
import io.stagewise.jobs.payments.ledger.LedgerEntry;
import io.stagewise.jobs.payments.ledger.LedgerEntrySerializer;
import io.stagewise.jobs.payments.ledger.LedgerWriter;
import java.io.IOException;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Instant;
import org.apache.flink.api.connector.sink2.Sink;

/** Completed payments as ledger rows, and the exactly-once PostgreSQL sink that applies them. */
public final class PaymentsLedger {
    private static final ObjectMapper JSON = new ObjectMapper();

    private PaymentsLedger() {}

    /** JDBC coordinates of the ledger database; the password is never logged or printed. */
    public record Database(String jdbcUrl, String user, String password) {
        /**
         * A connection for reads and bookkeeping (audit, reconcile), through the driver instance:
         * never {@code DriverManager}, which finds no driver on a session cluster's second submission.
         */
        public Connection connect(String applicationName) throws SQLException {
            return PostgresSink.connect(jdbcUrl, user, password, applicationName);
        }

        @Override
        public String toString() {
            return "Database{" + jdbcUrl + ", user=" + user + ", password=" + (password == null ? "none" : "***") + "}";
        }
    }

    /**
     * The ledger row of a completed payment: the amount, account and currency {@code validate}
     * accepted, and the charge id the gateway returned.
     */
    public static LedgerEntry entry(CompletedEvent done) {
        JsonNode outputs;
        try {
            outputs = JSON.readTree(done.outputs);
        } catch (IOException e) {
            throw new IllegalStateException("outputs of completed payment " + done.eventId + " are not JSON", e);
        }
        JsonNode valid = outputs.path(PaymentsWorkflow.VALIDATE);
        JsonNode charge = outputs.path(PaymentsWorkflow.CHARGE);
        if (!valid.isObject() || !charge.isObject()) {
            throw new IllegalStateException("completed event " + done.eventId + " has no validate/charge outputs: "
                    + "the ledger applies only to the payments workflow");
        }
        LedgerEntry entry = new LedgerEntry();
        entry.paymentId = done.eventId;
        entry.eventId = done.eventId;
        entry.account = valid.path("account").asText();
        entry.amount = new BigDecimal(valid.path("amount").asText());
        entry.currency = valid.path("currency").asText();
        entry.chargeId = charge.path("charge_id").asText(null);
        entry.appliedAt = Instant.ofEpochMilli(done.completedAt);
        return entry;
    }

    public static Sink<LedgerEntry> sink(Database database, String transactionIdPrefix) {
        return PostgresSink.<LedgerEntry>builder()
                .setJdbcUrl(database.jdbcUrl())
                .setUsername(database.user())
                .setPassword(database.password())
                .setTransactionIdPrefix(transactionIdPrefix)
                .setRowWriter(new LedgerWriter())
                .setRowSerializer(new LedgerEntrySerializer())
                .build();
    }
}
