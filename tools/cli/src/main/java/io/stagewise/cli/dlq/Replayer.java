package io.stagewise.cli.dlq;

import io.stagewise.jobs.StagewiseException;
import io.stagewise.operators.event.StagewiseHeaders;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.function.LongConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.InvalidProducerEpochException;
import org.apache.kafka.common.errors.OutOfOrderSequenceException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes dead letters back to the input topic so the pipeline processes them again.
 *
 * <p>Guarantee: each batch of replayed records is one Kafka transaction of an idempotent,
 * transactional producer, so {@code read_committed} readers (the pipeline) see a batch whole or
 * not at all; a crash mid-replay leaves no partial batch, and the open transaction is aborted by
 * the broker after {@link #TRANSACTION_TIMEOUT}. Replaying is safe to repeat: a replay record keeps
 * the event's identity (same value bytes, same {@code stagewise.origin.*}) and its progress, so the
 * pipeline drops it when the event has completed since (dedup rule, docs/state-and-dedup.md), never
 * re-runs a completed stage, and calls the failed stage with the idempotency key generation the
 * progress names. This class adds nothing the pipeline would treat as a new event.
 *
 * <p>A replay record (see {@link #replayRecord}): the dead letter's key and value bytes, untouched;
 * headers {@code stagewise.replay-of} = the dead letter's DLQ coordinates, the
 * {@code stagewise.origin.*} headers unchanged, {@code stagewise.progress} and
 * {@code stagewise.retry.count} from the dead letter.
 */
public final class Replayer {
    private static final Logger LOG = LoggerFactory.getLogger(Replayer.class);

    /** Default cap, records per second (as SQS redrive caps its rate). */
    public static final int DEFAULT_RATE = 500;
    /** Default records per transaction; a batch never spans more than about a second of the rate. */
    public static final int DEFAULT_BATCH_SIZE = 100;
    /**
     * How long the broker keeps a crashed replay's open transaction (which holds back every
     * read_committed reader of the input topic) before aborting it. Batches take about a second.
     */
    public static final Duration TRANSACTION_TIMEOUT = Duration.ofMinutes(1);

    /** Headers copied from the dead letter, unchanged, when present. */
    private static final String[] COPIED = {
        StagewiseHeaders.ORIGIN_TOPIC, StagewiseHeaders.ORIGIN_PARTITION, StagewiseHeaders.ORIGIN_OFFSET,
        StagewiseHeaders.ORIGIN_TIMESTAMP, StagewiseHeaders.PROGRESS, StagewiseHeaders.RETRY_COUNT
    };

    private Replayer() {}

    /**
     * @param ratePerSecond records per second, 0 for no cap
     * @param maxRequestBytes the producer's {@code max.request.size}: at least the largest record the
     *     input topic accepts, plus room for headers
     */
    public record Settings(String bootstrapServers, Map<String, String> clientProperties, String inputTopic,
                           String transactionalId, int ratePerSecond, int batchSize, int maxRequestBytes) {
        /** Without extra client properties. */
        public Settings(String bootstrapServers, String inputTopic, String transactionalId, int ratePerSecond,
                        int batchSize, int maxRequestBytes) {
            this(bootstrapServers, Map.of(), inputTopic, transactionalId, ratePerSecond, batchSize, maxRequestBytes);
        }

        public Settings {
            clientProperties = Map.copyOf(clientProperties);
            if (ratePerSecond < 0) {
                throw new StagewiseException("--rate must be 0 (no cap) or positive, got " + ratePerSecond);
            }
            if (batchSize <= 0) {
                throw new StagewiseException("--batch-size must be positive, got " + batchSize);
            }
        }

        /** Records per transaction: the batch size, but no more than one second's worth of the rate. */
        int effectiveBatchSize() {
            return ratePerSecond == 0 ? batchSize : Math.max(1, Math.min(batchSize, ratePerSecond));
        }
    }

    /** What a replay did: records written and committed, transactions committed. */
    public record Result(long replayed, int transactions) {}

    /** {@code stagewise-replay-<dlq topic>-<run id>}: one transactional id per DLQ and run. */
    public static String transactionalId(String dlqTopic, String runId) {
        return "stagewise-replay-" + dlqTopic + "-" + runId;
    }

    /** The record a dead letter is replayed as, to {@code inputTopic}. */
    public static ProducerRecord<byte[], byte[]> replayRecord(String inputTopic, DeadLetterRecord letter) {
        RecordHeaders headers = new RecordHeaders();
        headers.add(StagewiseHeaders.REPLAY_OF, letter.coordinates().getBytes(StandardCharsets.UTF_8));
        for (String name : COPIED) {
            letter.header(name).ifPresent(value -> headers.add(name, value.getBytes(StandardCharsets.UTF_8)));
        }
        // Partition left to the producer: the original key hashes to the partition the event came from.
        return new ProducerRecord<>(inputTopic, null, null, letter.key(), letter.value(), headers);
    }

    /**
     * Replays {@code letters} in order, one transaction per batch, at most {@code ratePerSecond}.
     *
     * @param progress called with the number of records committed so far, after every batch
     * @throws StagewiseException when a batch cannot be committed: that batch is aborted, earlier
     *     batches stay committed, and the message says how many
     */
    public static Result replay(Settings settings, List<DeadLetterRecord> letters, LongConsumer progress) {
        if (letters.isEmpty()) {
            return new Result(0, 0);
        }
        int batchSize = settings.effectiveBatchSize();
        long replayed = 0;
        int transactions = 0;
        long started = System.nanoTime();
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(producerProperties(settings),
                new ByteArraySerializer(), new ByteArraySerializer())) {
            try {
                producer.initTransactions();
            } catch (KafkaException e) {
                throw new StagewiseException("cannot start a transactional producer on " + settings.bootstrapServers()
                        + " (transactional.id " + settings.transactionalId() + "): " + e.getMessage(), e);
            }
            for (int from = 0; from < letters.size(); from += batchSize) {
                List<DeadLetterRecord> batch = letters.subList(from, Math.min(letters.size(), from + batchSize));
                try {
                    producer.beginTransaction();
                    for (int i = 0; i < batch.size(); i++) {
                        pace(settings.ratePerSecond(), started, from + i);
                        producer.send(replayRecord(settings.inputTopic(), batch.get(i)));
                    }
                    // Flushes, and fails if any send of the batch failed.
                    producer.commitTransaction();
                } catch (ProducerFencedException | InvalidProducerEpochException | OutOfOrderSequenceException
                         | AuthorizationException e) {
                    // The producer cannot continue, not even to abort; the broker aborts the transaction.
                    throw stopped(settings, replayed, batch, e);
                } catch (KafkaException | InterruptedException e) {
                    if (e instanceof InterruptedException) {
                        Thread.currentThread().interrupt();
                    }
                    abortQuietly(producer, settings);
                    throw stopped(settings, replayed, batch, e);
                }
                replayed += batch.size();
                transactions++;
                LOG.info("Replay {}: committed {} record(s) to {} (last from {}), {} of {}", settings.transactionalId(),
                        batch.size(), settings.inputTopic(), batch.get(batch.size() - 1).coordinates(), replayed,
                        letters.size());
                progress.accept(replayed);
            }
        }
        return new Result(replayed, transactions);
    }

    static Properties producerProperties(Settings settings) {
        Properties props = new Properties();
        props.putAll(settings.clientProperties());
        props.setProperty(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, settings.bootstrapServers());
        props.setProperty(ProducerConfig.TRANSACTIONAL_ID_CONFIG, settings.transactionalId());
        props.setProperty(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        props.setProperty(ProducerConfig.ACKS_CONFIG, "all");
        props.setProperty(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, Long.toString(TRANSACTION_TIMEOUT.toMillis()));
        props.setProperty(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, Integer.toString(settings.maxRequestBytes()));
        // Fail within seconds, not minutes, when the broker goes away mid-replay.
        props.setProperty(ProducerConfig.MAX_BLOCK_MS_CONFIG, "15000");
        props.setProperty(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
        props.setProperty(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "30000");
        props.setProperty(ProducerConfig.LINGER_MS_CONFIG, "5");
        return props;
    }

    private static void pace(int ratePerSecond, long startedNanos, long index) throws InterruptedException {
        if (ratePerSecond == 0) {
            return;
        }
        long due = startedNanos + index * TimeUnit.SECONDS.toNanos(1) / ratePerSecond;
        long wait = due - System.nanoTime();
        if (wait > 0) {
            TimeUnit.NANOSECONDS.sleep(wait);
        }
    }

    private static void abortQuietly(KafkaProducer<byte[], byte[]> producer, Settings settings) {
        try {
            producer.abortTransaction();
        } catch (KafkaException e) {
            LOG.warn("Replay {}: aborting the failed batch failed too; the broker aborts it after {} s "
                            + "(transaction.timeout.ms): {}", settings.transactionalId(), TRANSACTION_TIMEOUT.toSeconds(),
                    e.toString());
        }
    }

    private static StagewiseException stopped(Settings settings, long replayed, List<DeadLetterRecord> batch,
                                              Exception cause) {
        return new StagewiseException("replay stopped: " + replayed + " record(s) were replayed to '"
                + settings.inputTopic() + "' in committed batches; the batch of " + batch.size() + " from "
                + batch.get(0).coordinates() + " was not committed (read_committed readers never see it)."
                + " Running the same replay again is safe. Cause: " + cause, cause);
    }
}
