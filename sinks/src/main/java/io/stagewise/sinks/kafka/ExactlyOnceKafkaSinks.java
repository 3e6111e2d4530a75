package io.stagewise.sinks.kafka;

import org.apache.flink.annotation.PublicEvolving;
import java.time.Duration;
import java.util.Properties;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.flink.connector.kafka.sink.KafkaSink;

/**
 * Builds the transactional Kafka sinks Stagewise writes every topic with.
 *
 * <p>Delivery guarantee: exactly once for consumers reading {@code read_committed}. Records are
 * written in a Kafka transaction per checkpoint and committed when the checkpoint completes, so
 * a failure between checkpoints neither loses nor duplicates them. Each sink needs its own
 * transactional-id prefix, unique across every job on the cluster; the transaction timeout must
 * exceed checkpoint interval + checkpoint duration + restart time (or Kafka aborts a transaction
 * Flink still means to commit), and must not exceed the broker's {@code transaction.max.timeout.ms}.
 */
@PublicEvolving
public final class ExactlyOnceKafkaSinks {
    /** Default transaction timeout: well above a checkpoint plus a restart, below the broker's 15 min cap. */
    public static final Duration DEFAULT_TRANSACTION_TIMEOUT = Duration.ofMinutes(10);

    private ExactlyOnceKafkaSinks() {}

    public static <T> KafkaSink<T> create(
            String bootstrapServers,
            String transactionalIdPrefix,
            KafkaRecordSerializationSchema<T> serializer,
            Duration transactionTimeout,
            Properties extraProducerConfig) {
        if (transactionalIdPrefix == null || transactionalIdPrefix.isBlank()) {
            throw new IllegalArgumentException("an exactly-once Kafka sink needs a transactional id prefix");
        }
        // The broker's transaction.max.timeout.ms is the real cap; callers read it from the broker
        // (the pipeline's start-up check) instead of assuming its 15 min default.
        Properties producer = new Properties();
        producer.putAll(extraProducerConfig);
        producer.setProperty("transaction.timeout.ms", Long.toString(transactionTimeout.toMillis()));
        return KafkaSink.<T>builder()
                .setBootstrapServers(bootstrapServers)
                .setRecordSerializer(serializer)
                .setDeliveryGuarantee(DeliveryGuarantee.EXACTLY_ONCE)
                .setTransactionalIdPrefix(transactionalIdPrefix)
                .setKafkaProducerConfig(producer)
                .build();
    }
}
