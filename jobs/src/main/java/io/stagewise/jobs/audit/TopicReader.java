package io.stagewise.jobs.audit;

import io.stagewise.jobs.StagewiseException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/** Reads a whole topic as a {@code read_committed} consumer sees it now, without a consumer group. */
public final class TopicReader {
    private TopicReader() {}

    public static Properties consumerProperties(String bootstrapServers) {
        return consumerProperties(bootstrapServers, new Properties());
    }

    /** With extra client properties ({@code --kafka-property}: SASL/SSL), under what this reader must set itself. */
    public static Properties consumerProperties(String bootstrapServers, Properties clientProperties) {
        Properties props = new Properties();
        props.putAll(clientProperties);
        props.setProperty(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        props.setProperty(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        props.setProperty(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        props.setProperty(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        props.setProperty(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "5000");
        props.setProperty(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "10000");
        props.setProperty(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
        return props;
    }

    public static KafkaConsumer<byte[], byte[]> consumer(String bootstrapServers) {
        return consumer(bootstrapServers, new Properties());
    }

    public static KafkaConsumer<byte[], byte[]> consumer(String bootstrapServers, Properties clientProperties) {
        return new KafkaConsumer<>(consumerProperties(bootstrapServers, clientProperties), new ByteArrayDeserializer(),
                new ByteArrayDeserializer());
    }

    /** Every committed record of {@code topic} up to its last stable offset at the time of the call. */
    public static List<ConsumerRecord<byte[], byte[]>> readAll(String bootstrapServers, String topic, Duration timeout) {
        return readAll(bootstrapServers, new Properties(), topic, timeout);
    }

    /** As {@link #readAll(String, String, Duration)}, with extra client properties ({@code --kafka-property}). */
    public static List<ConsumerRecord<byte[], byte[]>> readAll(String bootstrapServers, Properties clientProperties, String topic,
                                                               Duration timeout) {
        try (KafkaConsumer<byte[], byte[]> consumer = consumer(bootstrapServers, clientProperties)) {
            List<TopicPartition> partitions = consumer.partitionsFor(topic, Duration.ofSeconds(10)).stream()
                    .map(p -> new TopicPartition(topic, p.partition()))
                    .collect(Collectors.toList());
            if (partitions.isEmpty()) {
                throw new StagewiseException("topic '" + topic + "' does not exist on " + bootstrapServers);
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            // For read_committed, endOffsets are the last stable offsets: what is committed now.
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
            List<ConsumerRecord<byte[], byte[]>> records = new ArrayList<>();
            long deadline = System.nanoTime() + timeout.toNanos();
            while (!caughtUp(consumer, end)) {
                if (System.nanoTime() > deadline) {
                    throw new StagewiseException("reading topic '" + topic + "' did not reach its end offsets "
                            + end + " within " + timeout.toSeconds() + " s");
                }
                consumer.poll(Duration.ofMillis(200)).forEach(records::add);
            }
            return records;
        }
    }

    private static boolean caughtUp(KafkaConsumer<byte[], byte[]> consumer, Map<TopicPartition, Long> end) {
        for (Map.Entry<TopicPartition, Long> e : end.entrySet()) {
            if (consumer.position(e.getKey()) < e.getValue()) {
                return false;
            }
        }
        return true;
    }
}
