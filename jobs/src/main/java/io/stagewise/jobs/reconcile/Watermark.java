package io.stagewise.jobs.reconcile;

import io.stagewise.jobs.StagewiseException;
import io.stagewise.jobs.audit.TopicReader;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;

/**
 * How far a reconciliation reads: the time it started and, per topic and partition, the end
 * offset a {@code read_committed} consumer saw then (the last stable offset). Every topic is read
 * from its beginning up to these offsets, never further, so the result describes one moment; in
 * periodic mode each topic is read from {@code start} (the end offsets the last run read up to, per
 * topic and partition; a partition without one is read from its beginning).
 *
 * <p>The end offsets are taken in the order of {@code topics}: periodic mode passes the targets
 * before the input, so the results of an input record past the input's end offset lie past the
 * targets' end offsets too (docs/reconcile.md, periodic mode).
 */
public record Watermark(long at, Map<String, Map<Integer, Long>> endOffsets, Map<String, Map<Integer, Long>> start) {
    /**
     * End offsets of the {@code targets} now, then of the {@code input}; a missing topic is a user
     * error naming it (the input checked first).
     */
    public static Watermark now(String bootstrapServers, Properties clientProperties, String input, List<String> targets,
                                Map<String, Map<Integer, Long>> start) {
        long at = System.currentTimeMillis();
        Map<String, Map<Integer, Long>> ends = new LinkedHashMap<>();
        try (KafkaConsumer<byte[], byte[]> consumer = TopicReader.consumer(bootstrapServers, clientProperties)) {
            Map<String, List<TopicPartition>> partitions = new LinkedHashMap<>();
            partitions.put(input, partitions(consumer, bootstrapServers, input));
            for (String topic : targets) {
                partitions.put(topic, partitions(consumer, bootstrapServers, topic));
            }
            List<String> order = new ArrayList<>(targets);
            order.add(input);
            for (String topic : order) {
                Map<Integer, Long> offsets = new TreeMap<>();
                consumer.endOffsets(partitions.get(topic)).forEach((tp, offset) -> offsets.put(tp.partition(), offset));
                ends.put(topic, offsets);
            }
        } catch (KafkaException e) {
            throw new StagewiseException("cannot use Kafka at " + bootstrapServers + " (--bootstrap-servers, --kafka-property,"
                    + " --kafka-properties): " + withRootCause(e), e);
        }
        return new Watermark(at, ends, Map.copyOf(start));
    }

    private static String withRootCause(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null) {
            root = root.getCause();
        }
        return e.getMessage() + (root != e ? " (" + root.getMessage() + ")" : "");
    }

    private static List<TopicPartition> partitions(KafkaConsumer<byte[], byte[]> consumer, String bootstrapServers, String topic) {
        List<PartitionInfo> infos;
        try {
            infos = consumer.partitionsFor(topic, Duration.ofSeconds(10));
        } catch (RuntimeException e) {
            throw new StagewiseException("cannot reach Kafka at " + bootstrapServers + " (--bootstrap-servers, --kafka-property,"
                    + " --kafka-properties) to read topic '" + topic + "': " + withRootCause(e), e);
        }
        if (infos == null || infos.isEmpty()) {
            throw new StagewiseException("topic '" + topic + "' does not exist on " + bootstrapServers);
        }
        return infos.stream().map(p -> new TopicPartition(topic, p.partition())).collect(Collectors.toList());
    }

    /** Periodic mode after the first run: the topics are read from the last run's end offsets. */
    public boolean windowed() {
        return !start.isEmpty();
    }

    public Map<TopicPartition, Long> startingOffsets(String topic) {
        Map<TopicPartition, Long> offsets = new LinkedHashMap<>();
        start.getOrDefault(topic, Map.of()).forEach((p, o) -> offsets.put(new TopicPartition(topic, p), o));
        return offsets;
    }

    /** Records this run reads of {@code topic} at most (offsets from start to end; transaction markers included). */
    public long offsetsToRead(String topic) {
        long total = 0;
        for (Map.Entry<Integer, Long> e : endOffsets.getOrDefault(topic, Map.of()).entrySet()) {
            total += Math.max(0, e.getValue() - start.getOrDefault(topic, Map.of()).getOrDefault(e.getKey(), 0L));
        }
        return total;
    }

    public Map<TopicPartition, Long> stoppingOffsets(String topic) {
        Map<TopicPartition, Long> offsets = new LinkedHashMap<>();
        endOffsets.getOrDefault(topic, Map.of()).forEach((p, o) -> offsets.put(new TopicPartition(topic, p), o));
        return offsets;
    }
}
