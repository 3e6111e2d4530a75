package io.stagewise.sinks.postgres;

import io.stagewise.sinks.postgres.fixture.Transfer;
import io.stagewise.sinks.postgres.fixture.TransferSerializer;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stagewise.sinks.postgres.internal.Gids;
import io.stagewise.sinks.postgres.internal.PostgresCommittable;
import io.stagewise.sinks.postgres.internal.PostgresCommittableSerializer;
import io.stagewise.sinks.postgres.internal.PostgresWriterState;
import io.stagewise.sinks.postgres.internal.PostgresWriterStateSerializer;
import io.stagewise.sinks.postgres.internal.TypeSerializerRowSerializer;
import java.io.IOException;
import java.math.BigDecimal;
import java.util.List;
import org.apache.flink.api.common.serialization.SerializerConfigImpl;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.java.typeutils.PojoTypeInfo;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.junit.jupiter.api.Test;

class PostgresSerializersTest {

    private static final Transfer ENTRY = new Transfer("pay-1", "acct-7", new BigDecimal("12.50"));
    private static final Transfer SPARSE = new Transfer("pay-2", null, new BigDecimal("-0.0001"));

    private static final String LINEAGE = "r0123456789ab";

    @Test
    void committableRoundTrip() throws IOException {
        PostgresCommittableSerializer serializer = new PostgresCommittableSerializer();
        PostgresCommittable committable = new PostgresCommittable("ledger-" + LINEAGE + "-3-9223372036854775806", LINEAGE, 3,
                9223372036854775806L, 42);
        byte[] bytes = serializer.serialize(committable);
        assertThat(serializer.getVersion()).isEqualTo(2);
        assertThat(serializer.deserialize(2, bytes)).isEqualTo(committable);
    }

    /** Savepoint compatibility: committables written before lineages restore as legacy ones. */
    @Test
    void committableVersion1StillReads() throws IOException {
        DataOutputSerializer v1 = new DataOutputSerializer(64);
        v1.writeUTF("ledger-3-17");
        v1.writeInt(3);
        v1.writeLong(17);
        v1.writeInt(42);
        PostgresCommittable back = new PostgresCommittableSerializer().deserialize(1, v1.getCopyOfBuffer());
        assertThat(back).isEqualTo(new PostgresCommittable("ledger-3-17", Gids.LEGACY, 3, 17, 42));
    }

    @Test
    void committableUnknownVersionThrows() throws IOException {
        PostgresCommittableSerializer serializer = new PostgresCommittableSerializer();
        byte[] bytes = serializer.serialize(new PostgresCommittable("p-" + LINEAGE + "-0-1", LINEAGE, 0, 1, 1));
        assertThatThrownBy(() -> serializer.deserialize(3, bytes))
                .isInstanceOf(IOException.class).hasMessageContaining("version 3");
        assertThatThrownBy(() -> serializer.deserialize(0, bytes)).isInstanceOf(IOException.class);
    }

    @Test
    void writerStateRoundTripWithVersionedRows() throws IOException {
        PostgresWriterStateSerializer<Transfer> serializer = new PostgresWriterStateSerializer<>(new TransferSerializer());
        PostgresWriterState<Transfer> state = new PostgresWriterState<>(List.of(LINEAGE, "r00000000000f"), 4, 99,
                List.of(ENTRY, SPARSE));
        PostgresWriterState<Transfer> back = serializer.deserialize(2, serializer.serialize(state));
        assertThat(back).isEqualTo(state);
        assertThat(back.bufferedRows()).containsExactly(ENTRY, SPARSE);
        assertThat(back.origin()).isEqualTo(LINEAGE + "-4-99");
        PostgresWriterState<Transfer> empty = serializer.deserialize(2,
                serializer.serialize(new PostgresWriterState<>(List.of(LINEAGE), 0, 1, List.of())));
        assertThat(empty.bufferedRows()).isEmpty();
        assertThat(empty.lineages()).containsExactly(LINEAGE);
        assertThatThrownBy(() -> serializer.deserialize(3, serializer.serialize(state))).isInstanceOf(IOException.class);
    }

    /**
     * Savepoint compatibility: writer state written before lineages restores; its entries are
     * named by their bytes, the same on every restore, so their rows are applied once.
     */
    @Test
    void writerStateVersion1StillReadsAsLegacyEntriesWithAStableName() throws IOException {
        TransferSerializer rows = new TransferSerializer();
        DataOutputSerializer v1 = new DataOutputSerializer(256);
        v1.writeInt(rows.getVersion());
        v1.writeInt(2);
        for (Transfer t : List.of(ENTRY, SPARSE)) {
            byte[] bytes = rows.serialize(t);
            v1.writeInt(bytes.length);
            v1.write(bytes);
        }
        PostgresWriterStateSerializer<Transfer> serializer = new PostgresWriterStateSerializer<>(rows);
        PostgresWriterState<Transfer> back = serializer.deserialize(1, v1.getCopyOfBuffer());
        assertThat(back.isLegacy()).isTrue();
        assertThat(back.lineages()).isEmpty();
        assertThat(back.bufferedRows()).containsExactly(ENTRY, SPARSE);
        assertThat(back.origin()).startsWith("v1-").isEqualTo(serializer.deserialize(1, v1.getCopyOfBuffer()).origin());
        assertThat(new Gids("ledger").carriedGid(back.origin())).matches(Gids.SAFE_GID.pattern());
    }

    @Test
    void gidsOfEveryShapeParseBackAndOthersDoNot() {
        Gids gids = new Gids("pay");
        assertThat(gids.parse(gids.gid(LINEAGE, 7, 42))).hasValue(new Gids.Parsed("pay-" + LINEAGE + "-7-42", LINEAGE, 7, 42));
        assertThat(gids.parse("pay-7-42")).hasValue(new Gids.Parsed("pay-7-42", Gids.LEGACY, 7, 42));
        assertThat(gids.parse("pay-1-" + LINEAGE + "-7-42")).as("prefix pay-1").isEmpty();
        assertThat(gids.parse(gids.carriedGid(LINEAGE + "-7-42"))).isEmpty();
        assertThat(gids.parse("pay-0-1-2")).isEmpty();
        assertThat(gids.gid(LINEAGE, 999_999_999, Long.MAX_VALUE).length()).isLessThan(200);
        assertThat(new Gids("p".repeat(150)).carriedGid(LINEAGE + "-999999999-" + Long.MAX_VALUE)).hasSizeLessThan(200);
    }

    @Test
    void writerStateWithFlinkTypeSerializerIsAPojoNotKryo() throws IOException {
        TypeInformation<Transfer> type = TypeInformation.of(Transfer.class);
        assertThat(type).isInstanceOf(PojoTypeInfo.class);
        SerializerConfigImpl config = new SerializerConfigImpl();
        config.setGenericTypes(false);
        TypeSerializer<Transfer> pojo = type.createSerializer(config);
        PostgresWriterStateSerializer<Transfer> serializer =
                new PostgresWriterStateSerializer<>(new TypeSerializerRowSerializer<>(pojo));
        PostgresWriterState<Transfer> back = serializer.deserialize(2,
                serializer.serialize(new PostgresWriterState<>(List.of(LINEAGE), 0, 1, List.of(ENTRY, SPARSE))));
        assertThat(back.bufferedRows()).containsExactly(ENTRY, SPARSE);
        TypeSerializerRowSerializer<Transfer> rows = new TypeSerializerRowSerializer<>(pojo);
        assertThatThrownBy(() -> rows.deserialize(3, rows.serialize(ENTRY))).isInstanceOf(IOException.class);
    }
}
