package io.stagewise.jobs.payments.ledger;

import java.io.IOException;
import java.io.Serializable;
import java.math.BigDecimal;
import java.time.Instant;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.apache.flink.core.memory.DataOutputView;

/**
 * Versioned format of {@link LedgerEntry} in the sink's writer state. Version 1: paymentId,
 * eventId, account, amount (plain decimal string), currency, chargeId, appliedAt (epoch second,
 * nano); every field preceded by a presence flag.
 */
public final class LedgerEntrySerializer implements SimpleVersionedSerializer<LedgerEntry>, Serializable {
    private static final long serialVersionUID = 1L;
    public static final int VERSION = 1;

    @Override
    public int getVersion() {
        return VERSION;
    }

    @Override
    public byte[] serialize(LedgerEntry e) throws IOException {
        DataOutputSerializer out = new DataOutputSerializer(128);
        writeString(out, e.paymentId);
        writeString(out, e.eventId);
        writeString(out, e.account);
        writeString(out, e.amount == null ? null : e.amount.toPlainString());
        writeString(out, e.currency);
        writeString(out, e.chargeId);
        out.writeBoolean(e.appliedAt != null);
        if (e.appliedAt != null) {
            out.writeLong(e.appliedAt.getEpochSecond());
            out.writeInt(e.appliedAt.getNano());
        }
        return out.getCopyOfBuffer();
    }

    @Override
    public LedgerEntry deserialize(int version, byte[] serialized) throws IOException {
        switch (version) {
            case 1:
                return deserializeV1(serialized);
            default:
                throw new IOException("unknown LedgerEntry serialization version " + version
                        + " (this build reads up to " + VERSION + ")");
        }
    }

    private static LedgerEntry deserializeV1(byte[] serialized) throws IOException {
        DataInputDeserializer in = new DataInputDeserializer(serialized);
        LedgerEntry e = new LedgerEntry();
        e.paymentId = readString(in);
        e.eventId = readString(in);
        e.account = readString(in);
        String amount = readString(in);
        e.amount = amount == null ? null : new BigDecimal(amount);
        e.currency = readString(in);
        e.chargeId = readString(in);
        e.appliedAt = in.readBoolean() ? Instant.ofEpochSecond(in.readLong(), in.readInt()) : null;
        return e;
    }

    private static void writeString(DataOutputView out, String s) throws IOException {
        out.writeBoolean(s != null);
        if (s != null) {
            out.writeUTF(s);
        }
    }

    private static String readString(DataInputView in) throws IOException {
        return in.readBoolean() ? in.readUTF() : null;
    }
}
