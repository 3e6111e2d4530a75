package io.stagewise.jobs.payments.ledger;

import java.math.BigDecimal;
import java.time.Instant;
import java.util.Objects;

/**
 * One applied payment: a row of the {@code ledger} table and a delta to its account's balance
 * (docs/payments.md). A Flink POJO (public fields, no-argument constructor), so it needs no
 * Kryo; in sink state it is written by {@link LedgerEntrySerializer}.
 *
 * <p>Delivery guarantee: none by itself; written by {@link LedgerWriter} through the exactly-once
 * {@link io.stagewise.sinks.postgres.PostgresSink}, one ledger row per payment.
 */
public class LedgerEntry {
    /** Primary key of the ledger: one row per payment. */
    public String paymentId;
    /** The event that completed the payment. */
    public String eventId;
    public String account;
    /** Exact decimal amount; never a floating-point number. */
    public BigDecimal amount;
    public String currency;
    /** The gateway's charge id; may be null. */
    public String chargeId;
    public Instant appliedAt;

    public LedgerEntry() {}

    public LedgerEntry(String paymentId, String eventId, String account, BigDecimal amount, String currency,
            String chargeId, Instant appliedAt) {
        this.paymentId = paymentId;
        this.eventId = eventId;
        this.account = account;
        this.amount = amount;
        this.currency = currency;
        this.chargeId = chargeId;
        this.appliedAt = appliedAt;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof LedgerEntry e
                && Objects.equals(paymentId, e.paymentId)
                && Objects.equals(eventId, e.eventId)
                && Objects.equals(account, e.account)
                && (amount == null ? e.amount == null : e.amount != null && amount.compareTo(e.amount) == 0)
                && Objects.equals(currency, e.currency)
                && Objects.equals(chargeId, e.chargeId)
                && Objects.equals(appliedAt, e.appliedAt);
    }

    @Override
    public int hashCode() {
        return Objects.hash(paymentId, eventId, account, amount == null ? null : amount.stripTrailingZeros(),
                currency, chargeId, appliedAt);
    }

    @Override
    public String toString() {
        return "LedgerEntry{paymentId=" + paymentId + ", eventId=" + eventId + ", account=" + account + ", amount="
                + (amount == null ? null : amount.toPlainString()) + ' ' + currency + ", chargeId=" + chargeId
                + ", appliedAt=" + appliedAt + '}';
    }
}
