package io.stagewise.sinks.postgres;

import io.stagewise.sinks.postgres.fixture.Transfer;
import io.stagewise.sinks.postgres.fixture.TransferSerializer;
import io.stagewise.sinks.postgres.fixture.TransferWriter;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.time.Duration;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.util.InstantiationUtil;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class PostgresSinkBuilderTest {

    private static PostgresSinkBuilder<Transfer> valid() {
        return PostgresSink.<Transfer>builder()
                .setJdbcUrl("jdbc:postgresql://127.0.0.1:5432/payments")
                .setUsername("stagewise")
                .setPassword("s3cret-pw")
                .setTransactionIdPrefix("payments-ledger")
                .setRowWriter(new TransferWriter())
                .setRowSerializer(new TransferSerializer());
    }

    @Test
    void buildsAValidSinkThatSurvivesJavaSerializationAndHidesThePassword() throws Exception {
        PostgresSink<Transfer> sink = valid().setLockTimeout(Duration.ofSeconds(3)).build();
        assertThat(sink.transactionIdPrefix()).isEqualTo("payments-ledger");
        assertThat(sink.toString()).doesNotContain("s3cret-pw").contains("<hidden>");
        PostgresSink<Transfer> copy = InstantiationUtil.clone(sink);
        assertThat(copy.transactionIdPrefix()).isEqualTo("payments-ledger");
    }

    @Test
    void refusesTimeoutsThatCannotBoundEveryWaitInOrder() {
        assertThatThrownBy(() -> valid().setStatementTimeout(Duration.ofSeconds(10)).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("setStatementTimeout");
        assertThatThrownBy(() -> valid().setStatementTimeout(null).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("setStatementTimeout");
        assertThatThrownBy(() -> valid().setSocketTimeout(Duration.ofSeconds(60)).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("setSocketTimeout");
        assertThat(valid().setLockTimeout(Duration.ofSeconds(2)).setStatementTimeout(Duration.ofSeconds(5))
                .setSocketTimeout(Duration.ofSeconds(8)).build().toString())
                .contains("statementTimeout=PT5S").contains("socketTimeout=PT8S");
    }

    @Test
    void refusesMissingPrefix() {
        assertThatThrownBy(() -> valid().setTransactionIdPrefix(null).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("transaction id prefix");
        assertThatThrownBy(() -> valid().setTransactionIdPrefix("").build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("transaction id prefix");
    }

    @ParameterizedTest
    @ValueSource(strings = {"pay'ledger", "pay ledger", "-leading-dash", "ledger;DROP", "ledger%", "ünïcode", "a\nb"})
    void refusesPrefixesUnsafeInAGid(String prefix) {
        assertThatThrownBy(() -> valid().setTransactionIdPrefix(prefix).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not safe in a PostgreSQL gid");
    }

    @Test
    void refusesTooLongPrefix() {
        assertThatThrownBy(() -> valid().setTransactionIdPrefix("p".repeat(151)).build())
                .isInstanceOf(IllegalArgumentException.class);
        assertThat(valid().setTransactionIdPrefix("p".repeat(150)).build()).isNotNull();
    }

    @Test
    void refusesMissingWriterSerializerOrUrl() {
        assertThatThrownBy(() -> valid().setRowWriter(null).build()).hasMessageContaining("RowWriter");
        assertThatThrownBy(() -> valid().setRowSerializer((SimpleVersionedSerializer<Transfer>) null).build())
                .hasMessageContaining("row serializer");
        assertThatThrownBy(() -> valid().setJdbcUrl(null).build()).hasMessageContaining("jdbc:postgresql:");
        assertThatThrownBy(() -> valid().setJdbcUrl("jdbc:mysql://localhost/x").build()).hasMessageContaining("jdbc:postgresql:");
    }

    @Test
    void refusesANonSerializableRowSerializer() {
        SimpleVersionedSerializer<Transfer> notSerializable = new SimpleVersionedSerializer<>() {
            @Override
            public int getVersion() {
                return 1;
            }

            @Override
            public byte[] serialize(Transfer obj) {
                return new byte[0];
            }

            @Override
            public Transfer deserialize(int version, byte[] serialized) throws IOException {
                throw new IOException("unused");
            }
        };
        assertThatThrownBy(() -> valid().setRowSerializer(notSerializable).build())
                .hasMessageContaining("must be java.io.Serializable");
    }

    @Test
    void refusesUnboundedOrNonsenseLockTimeoutsAndDeferrals() {
        assertThatThrownBy(() -> valid().setLockTimeout(Duration.ZERO).build()).hasMessageContaining("wait for ever");
        assertThatThrownBy(() -> valid().setLockTimeout(Duration.ofSeconds(-1)).build()).hasMessageContaining("lock timeout");
        assertThatThrownBy(() -> valid().setLockTimeout(null).build()).hasMessageContaining("lock timeout");
        assertThatThrownBy(() -> valid().setLockTimeout(Duration.ofHours(1)).build()).hasMessageContaining("lock timeout");
        assertThatThrownBy(() -> valid().setMaxDeferredCheckpoints(0).build()).hasMessageContaining("maxDeferredCheckpoints");
    }
}
