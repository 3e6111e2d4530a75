package io.stagewise.operators.latency;

import java.io.Serializable;
import java.util.Arrays;
import java.util.Iterator;
import java.util.Map;
import java.util.NavigableMap;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.function.LongConsumer;
import org.apache.flink.annotation.Internal;
import org.apache.flink.metrics.Histogram;
import org.apache.flink.runtime.metrics.DescriptiveStatisticsHistogram;
import org.apache.flink.runtime.state.StateSnapshotContext;
import org.apache.flink.streaming.api.operators.AbstractStreamOperator;
import org.apache.flink.streaming.api.operators.OneInputStreamOperator;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;

/**
 * Passes records through unchanged and measures, per record, the time from its input timestamp to
 * the completion of the checkpoint that commits it: the moment a two-phase-commit sink behind this
 * operator makes it visible (read_committed consumers, the ledger). Histogram
 * {@code stagewise.sink.<sink>.endToEndLatencyMs} (a {@code sink} key/value group, so reporters
 * make it a label); see {@link CommitLatency}.
 *
 * <p>How: timestamps of records seen since the last barrier are kept in memory; at a barrier they
 * are filed under that checkpoint's id; when a checkpoint completes, every file up to its id is
 * reported against the completion time (an aborted checkpoint's records commit with the next
 * completed one, as the Kafka and PostgreSQL sinks do). With aligned checkpoints a record that
 * passed here before barrier n reaches the sink before it too, so it commits with n.
 *
 * <p>No state: nothing here is part of a checkpoint, so adding or removing the operator never
 * affects restores. After a failover the timestamps of uncommitted records are dropped; their
 * replays are measured again from the original input timestamp, so the histogram shows the real
 * (longer) latency of a recovery. Memory is bounded: at most {@link #SAMPLES_PER_CHECKPOINT}
 * timestamps per checkpoint (a uniform reservoir sample when more records pass), and at most
 * {@link #MAX_PENDING_CHECKPOINTS} checkpoints waiting (older ones are reported as unmeasured).
 */
@Internal
public final class CommitLatencyOperator<T> extends AbstractStreamOperator<T> implements OneInputStreamOperator<T, T> {
    private static final long serialVersionUID = 1L;

    /** Timestamps kept per checkpoint; the histogram's window is of the same size. */
    static final int SAMPLES_PER_CHECKPOINT = 10_000;
    /** Checkpoints whose completion may be awaited at once, so a stalled job cannot grow the heap. */
    static final int MAX_PENDING_CHECKPOINTS = 100;

    /**
     * The input timestamp (epoch ms) of a record, e.g. its Kafka record's timestamp at the origin;
     * 0 or less when unknown (the record passes unmeasured). Must not throw.
     */
    @FunctionalInterface
    public interface InputTimestamp<T> extends Serializable {
        long of(T record);
    }

    private final String sink;
    private final InputTimestamp<T> timestamp;

    private transient Reservoir current;
    private transient NavigableMap<Long, Reservoir> awaiting;
    private transient Histogram latency;

    public CommitLatencyOperator(String sink, InputTimestamp<T> timestamp) {
        this.sink = sink;
        this.timestamp = timestamp;
    }

    @Override
    public void open() throws Exception {
        super.open();
        current = new Reservoir(new SplittableRandom(getRuntimeContext().getTaskInfo().getIndexOfThisSubtask()));
        awaiting = new TreeMap<>();
        latency = getMetricGroup().addGroup("stagewise").addGroup("sink", sink)
                .histogram("endToEndLatencyMs", new DescriptiveStatisticsHistogram(SAMPLES_PER_CHECKPOINT));
    }

    @Override
    public void processElement(StreamRecord<T> element) throws Exception {
        long inputTimestamp = timestamp.of(element.getValue());
        if (inputTimestamp > 0) { // 0 or less: no input timestamp known, nothing to measure
            current.add(inputTimestamp);
        }
        output.collect(element);
    }

    @Override
    public void snapshotState(StateSnapshotContext context) throws Exception {
        super.snapshotState(context);
        if (current.size() > 0) {
            awaiting.put(context.getCheckpointId(), current);
            current = current.next();
            while (awaiting.size() > MAX_PENDING_CHECKPOINTS) {
                Map.Entry<Long, Reservoir> oldest = awaiting.pollFirstEntry();
                LOG.warn("{} records of checkpoint {} before sink {} were not measured: {} checkpoints wait for completion "
                                + "(is the job checkpointing? see execution.checkpointing.interval)",
                        oldest.getValue().seen(), oldest.getKey(), sink, MAX_PENDING_CHECKPOINTS);
            }
        }
    }

    @Override
    public void notifyCheckpointComplete(long checkpointId) throws Exception {
        super.notifyCheckpointComplete(checkpointId);
        long now = getProcessingTimeService().getCurrentProcessingTime();
        Iterator<Reservoir> committed = awaiting.headMap(checkpointId, true).values().iterator();
        while (committed.hasNext()) {
            committed.next().forEach(inputTimestamp -> latency.update(Math.max(0, now - inputTimestamp)));
            committed.remove();
        }
    }

    /** The histogram, for tests. */
    Histogram latency() {
        return latency;
    }

    /** A uniform sample (Algorithm R) of at most {@link #SAMPLES_PER_CHECKPOINT} timestamps. */
    private static final class Reservoir {
        private final SplittableRandom random;
        private long[] values = new long[64];
        private int size;
        private long seen;

        Reservoir(SplittableRandom random) {
            this.random = random;
        }

        void add(long value) {
            seen++;
            if (size < SAMPLES_PER_CHECKPOINT) {
                if (size == values.length) {
                    values = Arrays.copyOf(values, Math.min(values.length * 2, SAMPLES_PER_CHECKPOINT));
                }
                values[size++] = value;
            } else {
                long slot = random.nextLong(seen);
                if (slot < SAMPLES_PER_CHECKPOINT) {
                    values[(int) slot] = value;
                }
            }
        }

        int size() {
            return size;
        }

        long seen() {
            return seen;
        }

        Reservoir next() {
            return new Reservoir(random);
        }

        void forEach(LongConsumer consumer) {
            for (int i = 0; i < size; i++) {
                consumer.accept(values[i]);
            }
        }
    }
}
