package io.stagewise.jobs.reconcile;

import io.stagewise.jobs.StagewiseException;
import io.stagewise.jobs.audit.TopicReader;
import io.stagewise.operators.event.StagewiseHeaders;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code --repair}: re-injects {@code MISSING} and {@code CHARGED-NOT-RECORDED} ids into the input
 * topic, so the pipeline's normal path applies them once.
 *
 * <p>Guarantee: a repair record is the original input record's key and value bytes, untouched,
 * with {@code stagewise.repair-of = <run id>:<class>} and the {@code stagewise.origin.*} headers
 * of the original record. Each batch is one Kafka transaction of an idempotent producer, so a
 * crash leaves no partial batch. Repeating is safe: the next reconciliation sees the repair record
 * in the input (the id is {@code in-flight} within the settle window, and afterwards an id with an
 * earlier repair is reported, never re-injected again), and the pipeline's dedup, stage records
 * and idempotency keys make a repeat harmless (docs/reconcile.md says where dedup stops that).
 * Ids that have an unresolved dead letter are not re-injected: {@code stagewise dlq replay} is their path.
 */
public final class Repairer {
    private static final Logger LOG = LoggerFactory.getLogger(Repairer.class);
    /** How long the broker keeps a crashed repair's open transaction before aborting it. */
    static final Duration TRANSACTION_TIMEOUT = Duration.ofMinutes(1);
    private static final int LINES = 20;

    private Repairer() {}

    /** What a repair did (or, dry, would do). */
    public record Result(boolean dryRun, long written, int transactions, long skipped, List<String> lines) {}

    /** True when {@code finding} is an id a repair re-injects. */
    static boolean wanted(Finding finding) {
        return finding.kind == Finding.Kind.ID && finding.idClass.isRepairable();
    }

    /**
     * @param candidates findings for which {@link #wanted} holds
     */
    public static Result repair(ReconcileSettings settings, String runId, List<Finding> candidates, boolean dryRun,
                                int batchSize) {
        List<Finding> chosen = new ArrayList<>();
        List<String> lines = new ArrayList<>();
        long skipped = 0;
        for (Finding f : candidates) {
            String why = f.repairs > 0 ? "repaired earlier (" + f.repairOf + ") and still " + f.idClass.label()
                    : f.deadLetters > 0 ? "has a dead letter: use stagewise dlq replay"
                    : f.partition < 0 ? "no original input record left" : null;
            if (why != null) {
                skipped++;
                line(lines, "skip " + f.id + " (" + f.idClass.label() + "): " + why);
            } else {
                chosen.add(f);
            }
        }
        chosen.sort(Comparator.<Finding>comparingInt(f -> f.partition).thenComparingLong(f -> f.offset));
        if (dryRun) {
            chosen.forEach(f -> line(lines, "would re-inject " + f.id + " (" + f.idClass.label() + ") from "
                    + settings.inputTopic() + "/" + f.partition + "/" + f.offset));
            return new Result(true, chosen.size(), 0, skipped, lines);
        }
        if (chosen.isEmpty()) {
            return new Result(false, 0, 0, skipped, lines);
        }
        long written = 0;
        int transactions = 0;
        String transactionalId = "stagewise-repair-" + settings.inputTopic() + "-" + runId;
        try (KafkaConsumer<byte[], byte[]> consumer = TopicReader.consumer(settings.bootstrapServers(), settings.kafkaClientProperties());
                KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(producerProperties(settings, transactionalId),
                        new ByteArraySerializer(), new ByteArraySerializer())) {
            producer.initTransactions();
            for (int from = 0; from < chosen.size(); from += batchSize) {
                List<Finding> batch = chosen.subList(from, Math.min(chosen.size(), from + batchSize));
                try {
                    producer.beginTransaction();
                    for (Finding f : batch) {
                        ConsumerRecord<byte[], byte[]> original = read(consumer, settings.inputTopic(), f);
                        producer.send(repairRecord(settings.inputTopic(), original, runId + ":" + f.idClass.label()));
                        line(lines, "re-injected " + f.id + " (" + f.idClass.label() + ") from " + settings.inputTopic()
                                + "/" + f.partition + "/" + f.offset);
                    }
                    producer.commitTransaction();
                } catch (KafkaException e) {
                    throw new StagewiseException("repair " + runId + " stopped: " + written + " record(s) were re-injected into '"
                            + settings.inputTopic() + "' in committed batches (transactional.id " + transactionalId
                            + "); the batch from event " + batch.get(0).id + " was not committed. Cause: " + e, e);
                }
                written += batch.size();
                transactions++;
                LOG.info("Repair {}: committed {} record(s) to {} (transactional.id {})", runId, batch.size(),
                        settings.inputTopic(), transactionalId);
            }
        }
        return new Result(false, written, transactions, skipped, lines);
    }

    /** The repair record of {@code original}: its key and value bytes, the repair and origin headers. */
    static ProducerRecord<byte[], byte[]> repairRecord(String inputTopic, ConsumerRecord<byte[], byte[]> original,
                                                       String repairOf) {
        RecordHeaders headers = new RecordHeaders();
        headers.add(RecordTallies.REPAIR_OF, utf8(repairOf));
        headers.add(StagewiseHeaders.ORIGIN_TOPIC, utf8(original.topic()));
        headers.add(StagewiseHeaders.ORIGIN_PARTITION, utf8(Integer.toString(original.partition())));
        headers.add(StagewiseHeaders.ORIGIN_OFFSET, utf8(Long.toString(original.offset())));
        headers.add(StagewiseHeaders.ORIGIN_TIMESTAMP, utf8(Long.toString(original.timestamp())));
        // Partition left to the producer: the original key hashes to the partition the event came from.
        return new ProducerRecord<>(inputTopic, null, null, original.key(), original.value(), headers);
    }

    private static ConsumerRecord<byte[], byte[]> read(KafkaConsumer<byte[], byte[]> consumer, String topic, Finding f) {
        TopicPartition partition = new TopicPartition(topic, f.partition);
        consumer.assign(List.of(partition));
        consumer.seek(partition, f.offset);
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (System.nanoTime() < deadline) {
            for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(200))) {
                if (record.offset() == f.offset) {
                    return record;
                }
                if (record.offset() > f.offset) {
                    throw new StagewiseException("input record " + topic + "/" + f.partition + "/" + f.offset + " of event "
                            + f.id + " is gone (retention?); it cannot be re-injected");
                }
            }
        }
        throw new StagewiseException("could not read input record " + topic + "/" + f.partition + "/" + f.offset
                + " of event " + f.id + " within 30 s");
    }

    private static Properties producerProperties(ReconcileSettings settings, String transactionalId) {
        // The extra client properties (--kafka-property: SASL/SSL) first; what a repair must set wins.
        Properties props = settings.kafkaClientProperties();
        props.setProperty(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, settings.bootstrapServers());
        props.setProperty(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId);
        props.setProperty(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        props.setProperty(ProducerConfig.ACKS_CONFIG, "all");
        props.setProperty(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, Long.toString(TRANSACTION_TIMEOUT.toMillis()));
        props.setProperty(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, Integer.toString(settings.maxEventBytes() + 64 * 1024));
        props.setProperty(ProducerConfig.MAX_BLOCK_MS_CONFIG, "15000");
        props.setProperty(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
        props.setProperty(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "30000");
        return props;
    }

    private static void line(List<String> lines, String line) {
        if (lines.size() < LINES) {
            lines.add(line);
        }
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
