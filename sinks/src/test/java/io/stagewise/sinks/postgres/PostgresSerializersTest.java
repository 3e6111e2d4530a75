package io.stagewise.sinks.postgres;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stagewise.sinks.postgres.internal.PostgresCommittable;
import io.stagewise.sinks.postgres.internal.PostgresCommittableSerializer;
import io.stagewise.sinks.postgres.internal.PostgresWriterState;
import io.stagewise.sinks.postgres.internal.PostgresWriterStateSerializer;
import io.stagewise.sinks.postgres.internal.TypeSerializerRowSerializer;
import io.stagewise.sinks.postgres.ledger.LedgerEntry;
import io.stagewise.sinks.postgres.ledger.LedgerEntrySerializer;
import java.io.IOException;
import java.math.BigDecimal;
import java.time.Instant;
import java.util.List;
import org.apache.flink.api.common.serialization.SerializerConfigImpl;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.java.typeutils.PojoTypeInfo;
import org.junit.jupiter.api.Test;

class PostgresSerializersTest {

    private static final LedgerEntry ENTRY = new LedgerEntry("pay-1", "evt-1", "acct-7", new BigDecimal("12.50"), "EUR",
            "ch_1", Instant.parse("2026-11-27T18:00:00.123456789Z"));
    private static final LedgerEntry SPARSE = new LedgerEntry("pay-2", "evt-2", "acct-8", new BigDecimal("-0.0001"), "USD",
            null, Instant.EPOCH);

    @Test
    void committableRoundTrip() throws IOException {
        PostgresCommittableSerializer serializer = new PostgresCommittableSerializer();
        PostgresCommittable committable = new PostgresCommittable("ledger-3-9223372036854775806", 3, 9223372036854775806L, 42);
        byte[] bytes = serializer.serialize(committable);
        assertThat(serializer.getVersion()).isEqualTo(1);
        assertThat(serializer.deserialize(1, bytes)).isEqualTo(committable);
    }

    @Test
    void committableUnknownVersionThrows() throws IOException {
        PostgresCommittableSerializer serializer = new PostgresCommittableSerializer();
        byte[] bytes = serializer.serialize(new PostgresCommittable("p-0-1", 0, 1, 1));
        assertThatThrownBy(() -> serializer.deserialize(2, bytes))
                .isInstanceOf(IOException.class).hasMessageContaining("version 2");
        assertThatThrownBy(() -> serializer.deserialize(0, bytes)).isInstanceOf(IOException.class);
    }

    @Test
    void ledgerEntryRoundTripKeepsEveryFieldAndNulls() throws IOException {
        LedgerEntrySerializer serializer = new LedgerEntrySerializer();
        for (LedgerEntry e : List.of(ENTRY, SPARSE, new LedgerEntry())) {
            LedgerEntry back = serializer.deserialize(1, serializer.serialize(e));
            assertThat(back).isEqualTo(e);
            assertThat(back.amount == null ? null : back.amount.scale()).isEqualTo(e.amount == null ? null : e.amount.scale());
        }
        assertThatThrownBy(() -> serializer.deserialize(7, serializer.serialize(ENTRY)))
                .isInstanceOf(IOException.class).hasMessageContaining("version 7");
    }

    @Test
    void writerStateRoundTripWithVersionedRows() throws IOException {
        PostgresWriterStateSerializer<LedgerEntry> serializer = new PostgresWriterStateSerializer<>(new LedgerEntrySerializer());
        PostgresWriterState<LedgerEntry> state = new PostgresWriterState<>(List.of(ENTRY, SPARSE));
        PostgresWriterState<LedgerEntry> back = serializer.deserialize(1, serializer.serialize(state));
        assertThat(back.bufferedRows()).containsExactly(ENTRY, SPARSE);
        PostgresWriterState<LedgerEntry> empty = serializer.deserialize(1, serializer.serialize(new PostgresWriterState<>(List.of())));
        assertThat(empty.bufferedRows()).isEmpty();
        assertThatThrownBy(() -> serializer.deserialize(2, serializer.serialize(state))).isInstanceOf(IOException.class);
    }

    @Test
    void writerStateWithFlinkTypeSerializerIsAPojoNotKryo() throws IOException {
        TypeInformation<LedgerEntry> type = TypeInformation.of(LedgerEntry.class);
        assertThat(type).isInstanceOf(PojoTypeInfo.class);
        SerializerConfigImpl config = new SerializerConfigImpl();
        config.setGenericTypes(false);
        TypeSerializer<LedgerEntry> pojo = type.createSerializer(config);
        PostgresWriterStateSerializer<LedgerEntry> serializer =
                new PostgresWriterStateSerializer<>(new TypeSerializerRowSerializer<>(pojo));
        PostgresWriterState<LedgerEntry> back = serializer.deserialize(1,
                serializer.serialize(new PostgresWriterState<>(List.of(ENTRY, SPARSE))));
        assertThat(back.bufferedRows()).containsExactly(ENTRY, SPARSE);
        TypeSerializerRowSerializer<LedgerEntry> rows = new TypeSerializerRowSerializer<>(pojo);
        assertThatThrownBy(() -> rows.deserialize(3, rows.serialize(ENTRY))).isInstanceOf(IOException.class);
    }
}
