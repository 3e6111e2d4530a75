package io.stagewise.operators.latency;

import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;

/**
 * End-to-end latency per sink: from a record's input timestamp to the moment its output becomes
 * visible, i.e. the completion of the checkpoint that commits it. Put it right before an
 * exactly-once sink:
 *
 * <pre>{@code
 * CommitLatency.measure(completed, "output", e -> e.origin.timestamp).sinkTo(kafkaSink)
 * }</pre>
 *
 * <p>The metric is the histogram {@code stagewise.sink.<sink>.endToEndLatencyMs} (p50/p95/p99 in
 * the dashboard, the REST API and Prometheus, where {@code sink} is a label). What it guarantees:
 * it only observes, records pass unchanged, and it holds no state (so savepoints are unaffected).
 * The operator's uid is {@link #uid(String)}: stable, as every Stagewise uid.
 */
@PublicEvolving
public final class CommitLatency {
    private static final String UID_PREFIX = "stagewise-e2e-latency-";

    private CommitLatency() {}

    /** The stream, passed through an operator that measures its records' commit latency as {@code sink}. */
    public static <T> SingleOutputStreamOperator<T> measure(DataStream<T> stream, String sink,
                                                           CommitLatencyOperator.InputTimestamp<T> inputTimestamp) {
        return stream.transform("End-to-end latency (" + sink + ")", stream.getType(),
                        new CommitLatencyOperator<>(sink, inputTimestamp))
                .uid(uid(sink))
                .name("End-to-end latency (" + sink + ")");
    }

    /** The uid of the measuring operator before {@code sink}. */
    public static String uid(String sink) {
        return UID_PREFIX + sink;
    }
}
