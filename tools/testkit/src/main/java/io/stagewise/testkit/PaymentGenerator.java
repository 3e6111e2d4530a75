package io.stagewise.testkit;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Generates payment events in the format of docs/event-format.md, deterministically from a seed,
 * with a share of exact duplicates (the same record sent again, as a retrying producer would) and
 * of malformed records. The plan says what a correct pipeline must produce: the distinct valid ids,
 * the malformed count and the amount per account.
 */
public final class PaymentGenerator {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String[] CURRENCIES = {"EUR", "USD", "GBP"};
    private static final Instant EPOCH = Instant.parse("2026-11-27T18:00:00Z");

    private PaymentGenerator() {}

    /** One record to send: Kafka key (may be null) and value. */
    public record Record(byte[] key, byte[] value) {}

    /** One generated payment. */
    public record Payment(String account, BigDecimal amount) {}

    /** The records to send and what a correct pipeline makes of them. */
    public record Plan(List<Record> records, Set<String> validIds, int duplicates, int malformed,
                       Map<String, BigDecimal> amountByAccount, Map<String, Payment> payments) {
        /** Per account, the sum of the payments among {@code ids}: what the ledger must hold for them. */
        public Map<String, BigDecimal> sumsFor(Set<String> ids) {
            Map<String, BigDecimal> sums = new TreeMap<>();
            for (String id : ids) {
                Payment payment = payments.get(id);
                if (payment != null) {
                    sums.merge(payment.account(), payment.amount(), BigDecimal::add);
                }
            }
            return sums;
        }
    }

    /** Generator settings; validated on construction. */
    public record Settings(int events, double duplicateRate, double malformedRate, long seed, int accounts) {
        public Settings {
            if (events < 0) {
                throw new SandboxException("--events must be >= 0, got " + events);
            }
            if (duplicateRate < 0 || duplicateRate >= 1) {
                throw new SandboxException("--duplicate-rate must be in [0, 1), got " + duplicateRate);
            }
            if (malformedRate < 0 || malformedRate >= 1 || duplicateRate + malformedRate >= 1) {
                throw new SandboxException("--malformed-rate must be in [0, 1) and, with --duplicate-rate, "
                        + "below 1; got " + malformedRate);
            }
            if (accounts < 1) {
                throw new SandboxException("--accounts must be >= 1, got " + accounts);
            }
        }
    }

    /** Plans {@code events} records: new payments, duplicates of earlier ones, malformed records. */
    public static Plan plan(Settings settings) {
        Random random = new Random(settings.seed());
        List<Record> records = new ArrayList<>(settings.events());
        List<Record> sent = new ArrayList<>();
        Set<String> validIds = new LinkedHashSet<>();
        Map<String, BigDecimal> amounts = new TreeMap<>();
        Map<String, Payment> payments = new HashMap<>();
        int duplicates = 0;
        int malformed = 0;
        for (int i = 0; i < settings.events(); i++) {
            double roll = random.nextDouble();
            if (roll < settings.malformedRate()) {
                records.add(malformed(i, random));
                malformed++;
            } else if (roll < settings.malformedRate() + settings.duplicateRate() && !sent.isEmpty()) {
                records.add(sent.get(random.nextInt(sent.size())));
                duplicates++;
            } else {
                String id = String.format("pay-%d-%07d", settings.seed(), validIds.size());
                String account = "acct-" + random.nextInt(settings.accounts());
                BigDecimal amount = BigDecimal.valueOf(100 + random.nextInt(50_000), 2);
                Record record = new Record(account.getBytes(StandardCharsets.UTF_8),
                        payment(id, account, amount, CURRENCIES[random.nextInt(CURRENCIES.length)],
                                "m-" + random.nextInt(20), EPOCH.plusMillis(i)));
                records.add(record);
                sent.add(record);
                validIds.add(id);
                amounts.merge(account, amount, BigDecimal::add);
                payments.put(id, new Payment(account, amount));
            }
        }
        return new Plan(Collections.unmodifiableList(records), Collections.unmodifiableSet(validIds),
                duplicates, malformed, Collections.unmodifiableMap(amounts), Collections.unmodifiableMap(payments));
    }

    static byte[] payment(String id, String account, BigDecimal amount, String currency, String merchant, Instant at) {
        ObjectNode event = JSON.createObjectNode();
        event.put("id", id);
        event.put("type", "payment.requested");
        event.put("key", account);
        event.put("occurredAt", at.toString());
        ObjectNode payload = event.putObject("payload");
        payload.put("account", account);
        payload.put("amount", amount.toPlainString());
        payload.put("currency", currency);
        payload.put("merchant", merchant);
        return event.toString().getBytes(StandardCharsets.UTF_8);
    }

    private static Record malformed(int i, Random random) {
        String value;
        switch (random.nextInt(3)) {
            case 0:
                value = "{\"id\": \"broken-" + i + "\", \"type\": \"payment.requested\", \"payload\": {";
                break;
            case 1:
                value = "{\"type\": \"payment.requested\", \"payload\": {\"note\": \"no id " + i + "\"}}";
                break;
            default:
                value = "{\"id\": \"no-type-" + i + "\", \"payload\": {}}";
                break;
        }
        return new Record(null, value.getBytes(StandardCharsets.UTF_8));
    }

    /**
     * Sends the plan's records in order, idempotently (acks=all), at most {@code ratePerSecond}
     * records per second (0: as fast as possible), reporting the count sent so far to {@code progress}.
     * Returns once every record is acknowledged; fails if any send failed.
     */
    public static void send(Plan plan, String bootstrapServers, String topic, int ratePerSecond, LongConsumer progress) {
        send(plan.records(), bootstrapServers, topic, ratePerSecond, progress);
    }

    /** Sends {@code records} (a plan's records, or a slice of them) as {@link #send(Plan, String, String, int, LongConsumer)} does. */
    public static void send(List<Record> records, String bootstrapServers, String topic, int ratePerSecond, LongConsumer progress) {
        send(records, bootstrapServers, new Properties(), topic, ratePerSecond, progress);
    }

    /** As {@link #send(List, String, String, int, LongConsumer)} with extra producer properties (SASL/SSL). */
    public static void send(List<Record> records, String bootstrapServers, Properties clientProperties, String topic,
                            int ratePerSecond, LongConsumer progress) {
        Properties props = new Properties();
        props.putAll(clientProperties);
        props.setProperty(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        props.setProperty(ProducerConfig.ACKS_CONFIG, "all");
        props.setProperty(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        props.setProperty(ProducerConfig.LINGER_MS_CONFIG, "5");
        // Kafka's own timeouts (60 s to block, 2 min to deliver): a loaded laptop or CI machine can stall the
        // broker for tens of seconds, and a generator that gives up then loses the run, not a record.
        AtomicReference<Exception> failure = new AtomicReference<>();
        AtomicLong acked = new AtomicLong();
        long start = System.nanoTime();
        try (KafkaProducer<byte[], byte[]> producer =
                new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer())) {
            for (int i = 0; i < records.size(); i++) {
                if (failure.get() != null) {
                    break;
                }
                if (ratePerSecond > 0) {
                    long due = start + TimeUnit.SECONDS.toNanos(i) / ratePerSecond;
                    long wait = due - System.nanoTime();
                    if (wait > 0) {
                        // Pacing the load, not waiting for a condition.
                        LockSupport.parkNanos(wait);
                    }
                }
                Record record = records.get(i);
                producer.send(new ProducerRecord<>(topic, record.key(), record.value()), (metadata, e) -> {
                    if (e != null) {
                        failure.compareAndSet(null, e);
                    } else {
                        progress.accept(acked.incrementAndGet());
                    }
                });
            }
            producer.flush();
        } catch (KafkaException e) {
            throw new SandboxException("producing to '" + topic + "' on " + bootstrapServers + " failed: " + e.getMessage(), e);
        }
        if (failure.get() != null) {
            throw new SandboxException("producing to '" + topic + "' on " + bootstrapServers + " failed after "
                    + acked.get() + " records: " + failure.get().getMessage(), failure.get());
        }
    }
}
