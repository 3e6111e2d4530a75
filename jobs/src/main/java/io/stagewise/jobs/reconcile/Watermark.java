package io.stagewise.jobs.reconcile;

import io.stagewise.jobs.StagewiseException;
import io.stagewise.jobs.audit.TopicReader;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;

/**
 * How far a reconciliation reads: the time it started and, per topic and partition, the end
 * offset a {@code read_committed} consumer saw then (the last stable offset). Every topic is read
 * from its beginning up to these offsets, never further, so the result describes one moment; in
 * periodic mode the input topic is read from {@code inputStart} (per partition; empty: from the beginning).
 */
public record Watermark(long at, Map<String, Map<Integer, Long>> endOffsets, Map<Integer, Long> inputStart) {
    /** End offsets of {@code topics} now; a missing topic is a user error naming it. */
    public static Watermark now(String bootstrapServers, List<String> topics, Map<Integer, Long> inputStart) {
        long at = System.currentTimeMillis();
        Map<String, Map<Integer, Long>> ends = new LinkedHashMap<>();
        try (KafkaConsumer<byte[], byte[]> consumer = TopicReader.consumer(bootstrapServers)) {
            for (String topic : topics) {
                List<PartitionInfo> infos;
                try {
                    infos = consumer.partitionsFor(topic, Duration.ofSeconds(10));
                } catch (RuntimeException e) {
                    throw new StagewiseException("cannot reach Kafka at " + bootstrapServers + " (--bootstrap-servers) to read topic '"
                            + topic + "': " + e.getMessage(), e);
                }
                if (infos == null || infos.isEmpty()) {
                    throw new StagewiseException("topic '" + topic + "' does not exist on " + bootstrapServers);
                }
                List<TopicPartition> partitions = infos.stream().map(p -> new TopicPartition(topic, p.partition()))
                        .collect(Collectors.toList());
                Map<Integer, Long> offsets = new TreeMap<>();
                consumer.endOffsets(partitions).forEach((tp, offset) -> offsets.put(tp.partition(), offset));
                ends.put(topic, offsets);
            }
        }
        return new Watermark(at, ends, Map.copyOf(inputStart));
    }

    public boolean windowed() {
        return !inputStart.isEmpty();
    }

    public Map<TopicPartition, Long> startingOffsets(String topic) {
        Map<TopicPartition, Long> offsets = new LinkedHashMap<>();
        inputStart.forEach((p, o) -> offsets.put(new TopicPartition(topic, p), o));
        return offsets;
    }

    public Map<TopicPartition, Long> stoppingOffsets(String topic) {
        Map<TopicPartition, Long> offsets = new LinkedHashMap<>();
        endOffsets.getOrDefault(topic, Map.of()).forEach((p, o) -> offsets.put(new TopicPartition(topic, p), o));
        return offsets;
    }
}
