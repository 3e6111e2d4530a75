package io.stagewise.cli.dlq;

import io.stagewise.jobs.StagewiseException;
import io.stagewise.jobs.Topics;
import io.stagewise.jobs.audit.TopicReader;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;

/**
 * Reads a DLQ topic once, as a {@code read_committed} consumer without a group, from the beginning
 * of every partition to the end offsets taken at the start (for read_committed: the last stable
 * offsets), so it ends on an empty topic and does not chase records written meanwhile. Dead letters
 * of transactions still open or aborted are never seen.
 *
 * <p>Fails fast with a {@link StagewiseException} when the broker does not answer (naming the
 * address) or the topic does not exist, and when reading makes no progress for {@link #STALL}.
 */
public final class DeadLetterReader {
    /** Give up when a whole poll cycle moved no partition forward for this long. */
    static final Duration STALL = Duration.ofSeconds(30);

    private DeadLetterReader() {}

    /**
     * The outcome of one read: how many records were read, those {@code keep} accepted (in
     * partition, offset order), and for every event identity the coordinates of its latest dead
     * letter (by {@code stagewise.failure.at}, then offset) across the whole topic.
     */
    public record Scan(String topic, long read, List<DeadLetterRecord> kept, Map<String, String> latestByIdentity) {
        /** False when a later dead letter of the same event exists: the event failed again after a replay. */
        public boolean isLatest(DeadLetterRecord letter) {
            return letter.coordinates().equals(latestByIdentity.get(letter.identity()));
        }
    }

    public static Scan scan(String bootstrapServers, String dlqTopic, Predicate<DeadLetterRecord> keep) {
        return scan(bootstrapServers, new Properties(), dlqTopic, keep);
    }

    /** As {@link #scan(String, String, Predicate)} with extra client properties ({@code --kafka-property}). */
    public static Scan scan(String bootstrapServers, Properties clientProperties, String dlqTopic,
                            Predicate<DeadLetterRecord> keep) {
        TopicDescription description;
        try (Admin admin = Topics.admin(bootstrapServers, clientProperties)) {
            Topics.checkReachable(admin, bootstrapServers);
            description = Topics.describe(admin, dlqTopic).orElseThrow(() -> new StagewiseException(
                    "DLQ topic '" + dlqTopic + "' does not exist on " + bootstrapServers + "; is --topic right?"
                            + " (the pipeline creates <input>.dlq when it starts)"));
        }
        List<TopicPartition> partitions = description.partitions().stream()
                .map(p -> new TopicPartition(dlqTopic, p.partition()))
                .collect(Collectors.toList());
        List<DeadLetterRecord> kept = new ArrayList<>();
        Map<String, Latest> latest = new HashMap<>();
        long read = 0;
        try (KafkaConsumer<byte[], byte[]> consumer = TopicReader.consumer(bootstrapServers, clientProperties)) {
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
            long lastProgress = System.nanoTime();
            long positions = positions(consumer, partitions);
            while (!caughtUp(consumer, end)) {
                for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(200))) {
                    if (record.offset() >= end.get(new TopicPartition(record.topic(), record.partition()))) {
                        continue; // written after we started: not part of this read
                    }
                    read++;
                    DeadLetterRecord letter = DeadLetterRecord.of(record);
                    latest.merge(letter.identity(), Latest.of(letter), (a, b) -> Latest.ORDER.compare(a, b) >= 0 ? a : b);
                    if (keep.test(letter)) {
                        kept.add(letter);
                    }
                }
                long now = positions(consumer, partitions);
                if (now != positions) {
                    positions = now;
                    lastProgress = System.nanoTime();
                } else if (System.nanoTime() - lastProgress > STALL.toNanos()) {
                    throw new StagewiseException("reading DLQ topic '" + dlqTopic + "' on " + bootstrapServers
                            + " made no progress for " + STALL.toSeconds() + " s (at " + positionsOf(consumer, partitions)
                            + ", end " + end + ")");
                }
            }
        } catch (KafkaException e) {
            throw new StagewiseException("cannot read DLQ topic '" + dlqTopic + "' on " + bootstrapServers + ": " + e, e);
        }
        kept.sort(Comparator.comparing(DeadLetterRecord::partition).thenComparing(DeadLetterRecord::offset));
        Map<String, String> latestCoordinates = new HashMap<>();
        latest.forEach((identity, l) -> latestCoordinates.put(identity, l.coordinates));
        return new Scan(dlqTopic, read, kept, latestCoordinates);
    }

    private record Latest(long failureAt, long offset, String coordinates) {
        static final Comparator<Latest> ORDER =
                Comparator.comparingLong(Latest::failureAt).thenComparingLong(Latest::offset);

        static Latest of(DeadLetterRecord letter) {
            return new Latest(letter.failureAt().orElse(letter.timestamp()), letter.offset(), letter.coordinates());
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

    private static long positions(KafkaConsumer<byte[], byte[]> consumer, List<TopicPartition> partitions) {
        long sum = 0;
        for (TopicPartition p : partitions) {
            sum += consumer.position(p);
        }
        return sum;
    }

    private static Map<TopicPartition, Long> positionsOf(KafkaConsumer<byte[], byte[]> consumer,
                                                         List<TopicPartition> partitions) {
        Map<TopicPartition, Long> out = new HashMap<>();
        partitions.forEach(p -> out.put(p, consumer.position(p)));
        return out;
    }
}
