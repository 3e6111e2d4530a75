package io.stagewise.sinks.postgres;

import io.stagewise.sinks.postgres.fixture.Transfer;
import io.stagewise.sinks.postgres.fixture.TransferSerializer;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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
import org.junit.jupiter.api.Test;

class PostgresSerializersTest {

    private static final Transfer ENTRY = new Transfer("pay-1", "acct-7", new BigDecimal("12.50"));
    private static final Transfer SPARSE = new Transfer("pay-2", null, new BigDecimal("-0.0001"));

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
    void writerStateRoundTripWithVersionedRows() throws IOException {
        PostgresWriterStateSerializer<Transfer> serializer = new PostgresWriterStateSerializer<>(new TransferSerializer());
        PostgresWriterState<Transfer> state = new PostgresWriterState<>(List.of(ENTRY, SPARSE));
        PostgresWriterState<Transfer> back = serializer.deserialize(1, serializer.serialize(state));
        assertThat(back.bufferedRows()).containsExactly(ENTRY, SPARSE);
        PostgresWriterState<Transfer> empty = serializer.deserialize(1, serializer.serialize(new PostgresWriterState<>(List.of())));
        assertThat(empty.bufferedRows()).isEmpty();
        assertThatThrownBy(() -> serializer.deserialize(2, serializer.serialize(state))).isInstanceOf(IOException.class);
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
        PostgresWriterState<Transfer> back = serializer.deserialize(1,
                serializer.serialize(new PostgresWriterState<>(List.of(ENTRY, SPARSE))));
        assertThat(back.bufferedRows()).containsExactly(ENTRY, SPARSE);
        TypeSerializerRowSerializer<Transfer> rows = new TypeSerializerRowSerializer<>(pojo);
        assertThatThrownBy(() -> rows.deserialize(3, rows.serialize(ENTRY))).isInstanceOf(IOException.class);
    }
}
