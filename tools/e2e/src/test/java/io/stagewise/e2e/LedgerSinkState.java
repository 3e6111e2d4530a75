package io.stagewise.e2e;

import io.stagewise.jobs.PipelineJob;
import io.stagewise.jobs.payments.PaymentsLedger;
import io.stagewise.jobs.payments.ledger.LedgerEntry;
import io.stagewise.sinks.postgres.PostgresSink;
import io.stagewise.sinks.postgres.internal.PostgresWriterState;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.io.SimpleVersionedSerialization;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.state.api.OperatorIdentifier;
import org.apache.flink.state.api.SavepointReader;
import org.apache.flink.state.rocksdb.EmbeddedRocksDBStateBackend;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.util.CloseableIterator;

/**
 * The ledger sink's part of a savepoint: the rows its writers carried in their state because a
 * checkpoint's write was deferred (an earlier transaction of the subtask was still prepared, see
 * the lock trap in docs/payments.md), read with the State Processor API and the sink's own writer
 * state serializer. Flink keeps Sink V2 writer state as list state {@value #WRITER_STATE} of the
 * writer operator, whose uid is the sink's ({@link PipelineJob#LEDGER_SINK_UID}).
 */
final class LedgerSinkState {
    /** The list state Flink's {@code SinkWriterOperator} keeps a stateful writer's state in. */
    static final String WRITER_STATE = "writer_raw_states";

    private LedgerSinkState() {}

    /** Payment ids of the rows carried in the ledger sink's writer state of the savepoint or checkpoint at {@code path}. */
    static List<String> carriedRows(String path) throws Exception {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(new Configuration());
        env.setParallelism(1);
        SavepointReader savepoint = SavepointReader.read(env, path, new EmbeddedRocksDBStateBackend());
        @SuppressWarnings("unchecked")
        PostgresSink<LedgerEntry> sink = (PostgresSink<LedgerEntry>) PaymentsLedger.sink(
                new PaymentsLedger.Database("jdbc:postgresql://127.0.0.1/unused", null, null), "unused");
        SimpleVersionedSerializer<PostgresWriterState<LedgerEntry>> serializer = sink.getWriterStateSerializer();
        List<String> rows = new ArrayList<>();
        try (CloseableIterator<byte[]> states = savepoint.readListState(OperatorIdentifier.forUid(PipelineJob.LEDGER_SINK_UID),
                WRITER_STATE, PrimitiveArrayTypeInfo.BYTE_PRIMITIVE_ARRAY_TYPE_INFO).executeAndCollect("ledger sink state")) {
            while (states.hasNext()) {
                for (LedgerEntry row : SimpleVersionedSerialization.readVersionAndDeSerialize(serializer, states.next()).bufferedRows()) {
                    rows.add(row.paymentId);
                }
            }
        }
        return rows;
    }
}
