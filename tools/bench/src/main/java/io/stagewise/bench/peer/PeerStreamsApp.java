package io.stagewise.bench.peer;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.util.ByteArrayBuilder;
import io.stagewise.operators.event.StagewiseHeaders;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Properties;
import java.util.Set;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.processor.api.ContextualProcessor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.Stores;

/**
 * The peer of the Stagewise pipeline in {@code stagewise bench peer}: the same work as a Kafka
 * Streams {@code exactly_once_v2} application, written the way a careful Kafka Streams user would.
 *
 * <p>parse (streaming, the fields the pipeline reads; a record that is not an event is skipped and
 * counted) → repartition by event id → dedup in a RocksDB key-value store (changelogged) → three
 * local stages ({@code validate}, {@code enrich}, {@code route}, as in {@code StageBenchmark}) → the
 * output topic, keyed by business key, with header {@code stagewise.event-id} and the JSON of the
 * Stagewise output format. Guarantee: Kafka Streams exactly-once v2 (each input record's effects on
 * the store, the repartition topic and the output commit in one transaction per commit interval).
 * Unlike Stagewise it has no dead-letter queue, no malformed capture topic and no TTL on remembered
 * ids; the benchmark's input has no malformed records.
 */
public final class PeerStreamsApp {
    static final String STORE = "seen-ids";
    private static final JsonFactory JSON = new JsonFactory();
    private static final Set<String> CURRENCIES = Set.of("EUR", "USD", "GBP", "CHF", "JPY", "SEK", "NOK", "DKK", "PLN", "CZK");
    private static final BigDecimal FEE_RATE = new BigDecimal("0.0025");

    private PeerStreamsApp() {}

    /** The streams configuration: exactly-once v2, commit interval, stream threads, state directory. */
    public static Properties config(String applicationId, String bootstrap, Duration commitInterval, int threads,
                                    Path stateDir) {
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, applicationId);
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, commitInterval.toMillis());
        props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, threads);
        props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toAbsolutePath().toString());
        props.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, 1);
        props.put(StreamsConfig.consumerPrefix("auto.offset.reset"), "earliest");
        return props;
    }

    /** input (key = business key, value = event JSON) → ... → output. */
    public static Topology topology(String input, String output, int partitions) {
        StreamsBuilder builder = new StreamsBuilder();
        builder.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(STORE), Serdes.String(),
                Serdes.Long()));
        builder.stream(input, Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()))
                .process(Parse::new)
                .repartition(Repartitioned.with(Serdes.String(), new ParsedSerde())
                        .withName("by-id").withNumberOfPartitions(partitions))
                .process(Dedup::new, STORE)
                .process(Stages::new)
                .to(output, Produced.with(Serdes.String(), Serdes.ByteArray()));
        return builder.build();
    }

    /** Starts the application; the caller closes it. */
    public static KafkaStreams start(Topology topology, Properties config) {
        KafkaStreams streams = new KafkaStreams(topology, config);
        streams.start();
        return streams;
    }

    /** What crosses the repartition topic: the parsed event and where it came from. */
    record Parsed(String id, String type, String key, String payload, String topic, int partition, long offset,
                  long timestamp) {}

    /** Streaming parse of the top-level fields; the payload is kept as its original text. */
    static final class Parse extends ContextualProcessor<byte[], byte[], String, Parsed> {
        @Override
        public void process(Record<byte[], byte[]> record) {
            Parsed parsed = parse(record.key(), record.value(), record.timestamp(), context());
            if (parsed == null) {
                // Not an event: the benchmark's input has none, and its output check would show one.
                return;
            }
            context().forward(record.withKey(parsed.id()).withValue(parsed));
        }

        private static Parsed parse(byte[] recordKey, byte[] value, long timestamp,
                                    ProcessorContext<String, Parsed> context) {
            if (value == null) {
                return null;
            }
            String id = null;
            String type = null;
            String key = null;
            String payload = "{}";
            try (JsonParser parser = JSON.createParser(value)) {
                if (parser.nextToken() != JsonToken.START_OBJECT) {
                    return null;
                }
                while (parser.nextToken() == JsonToken.FIELD_NAME) {
                    String name = parser.currentName();
                    JsonToken token = parser.nextToken();
                    switch (name) {
                        case "id" -> id = token == JsonToken.VALUE_STRING ? parser.getText() : null;
                        case "type" -> type = token == JsonToken.VALUE_STRING ? parser.getText() : null;
                        case "key" -> key = token == JsonToken.VALUE_STRING ? parser.getText() : null;
                        case "payload" -> {
                            int start = (int) parser.currentTokenLocation().getByteOffset();
                            parser.skipChildren();
                            if (token == JsonToken.START_OBJECT) {
                                int end = (int) parser.currentLocation().getByteOffset();
                                payload = new String(value, start, end - start, StandardCharsets.UTF_8);
                            }
                        }
                        default -> parser.skipChildren();
                    }
                }
            } catch (IOException e) {
                return null;
            }
            if (id == null || id.isEmpty() || type == null) {
                return null;
            }
            if (key == null || key.isEmpty()) {
                key = recordKey != null ? new String(recordKey, StandardCharsets.UTF_8) : id;
            }
            RecordMetadata meta = context.recordMetadata().orElseThrow();
            return new Parsed(id, type, key, payload, meta.topic(), meta.partition(), meta.offset(), timestamp);
        }
    }

    /** Forwards an id the first time it is seen; remembers it in the RocksDB store (changelogged). */
    static final class Dedup extends ContextualProcessor<String, Parsed, String, Parsed> {
        private KeyValueStore<String, Long> seen;

        @Override
        public void init(ProcessorContext<String, Parsed> context) {
            super.init(context);
            seen = context.getStateStore(STORE);
        }

        @Override
        public void process(Record<String, Parsed> record) {
            if (seen.get(record.key()) != null) {
                return;
            }
            seen.put(record.key(), record.timestamp());
            context().forward(record);
        }
    }

    /**
     * {@code validate} (account present, amount positive, currency known), {@code enrich} (minor units
     * and fee), {@code route} (acquirer by currency and account), then the output record.
     */
    static final class Stages extends ContextualProcessor<String, Parsed, String, byte[]> {
        private final ByteArrayBuilder buffer = new ByteArrayBuilder(512);

        @Override
        public void process(Record<String, Parsed> record) {
            Parsed event = record.value();
            String account = "";
            String amountText = "";
            String currency = "";
            String merchant = "";
            try (JsonParser parser = JSON.createParser(event.payload())) {
                parser.nextToken();
                while (parser.nextToken() == JsonToken.FIELD_NAME) {
                    String name = parser.currentName();
                    JsonToken token = parser.nextToken();
                    String text = token == JsonToken.VALUE_STRING ? parser.getText() : "";
                    switch (name) {
                        case "account" -> account = text;
                        case "amount" -> amountText = text;
                        case "currency" -> currency = text;
                        case "merchant" -> merchant = text;
                        default -> parser.skipChildren();
                    }
                }
            } catch (IOException e) {
                // A rejected payment is left out of the output; the benchmark's output check shows it.
                return;
            }
            BigDecimal amount;
            try {
                amount = new BigDecimal(amountText);
            } catch (NumberFormatException e) {
                return;
            }
            if (account.isEmpty() || amount.signum() <= 0 || !CURRENCIES.contains(currency)) {
                return;
            }
            long minor = amount.movePointRight(2).setScale(0, RoundingMode.HALF_EVEN).longValueExact();
            String fee = amount.multiply(FEE_RATE).setScale(2, RoundingMode.HALF_EVEN).toPlainString();
            int acquirer = Math.floorMod((currency + account).hashCode(), 4);
            byte[] value = write(event, account, amount, currency, merchant, minor, fee, acquirer);
            Record<String, byte[]> out = new Record<>(event.key(), value, record.timestamp());
            out.headers().add(StagewiseHeaders.EVENT_ID, event.id().getBytes(StandardCharsets.UTF_8));
            context().forward(out);
        }

        private byte[] write(Parsed event, String account, BigDecimal amount, String currency, String merchant,
                             long minor, String fee, int acquirer) {
            buffer.reset();
            try (JsonGenerator json = JSON.createGenerator(buffer)) {
                json.writeStartObject();
                json.writeStringField("id", event.id());
                json.writeStringField("type", event.type());
                json.writeStringField("key", event.key());
                json.writeFieldName("payload");
                json.writeRawValue(event.payload());
                json.writeObjectFieldStart("outputs");
                json.writeObjectFieldStart("validate");
                json.writeStringField("account", account);
                json.writeStringField("amount", amount.toPlainString());
                json.writeStringField("currency", currency);
                json.writeStringField("merchant", merchant);
                json.writeEndObject();
                json.writeObjectFieldStart("enrich");
                json.writeNumberField("amount_minor", minor);
                json.writeStringField("fee", fee);
                json.writeEndObject();
                json.writeObjectFieldStart("route");
                json.writeStringField("acquirer", "acq-" + acquirer);
                json.writeEndObject();
                json.writeEndObject();
                json.writeNumberField("completedAt", System.currentTimeMillis());
                json.writeObjectFieldStart("origin");
                json.writeStringField("topic", event.topic());
                json.writeNumberField("partition", event.partition());
                json.writeNumberField("offset", event.offset());
                json.writeNumberField("timestamp", event.timestamp());
                json.writeEndObject();
                json.writeEndObject();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot write the output of " + event.id(), e);
            }
            return buffer.toByteArray();
        }
    }

    /** Compact binary form of {@link Parsed} for the repartition topic. */
    static final class ParsedSerde implements Serde<Parsed> {
        @Override
        public Serializer<Parsed> serializer() {
            return (topic, parsed) -> {
                ByteArrayOutputStream bytes = new ByteArrayOutputStream(256);
                try (DataOutputStream out = new DataOutputStream(bytes)) {
                    out.writeUTF(parsed.id());
                    out.writeUTF(parsed.type());
                    out.writeUTF(parsed.key());
                    byte[] payload = parsed.payload().getBytes(StandardCharsets.UTF_8);
                    out.writeInt(payload.length);
                    out.write(payload);
                    out.writeUTF(parsed.topic());
                    out.writeInt(parsed.partition());
                    out.writeLong(parsed.offset());
                    out.writeLong(parsed.timestamp());
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                return bytes.toByteArray();
            };
        }

        @Override
        public Deserializer<Parsed> deserializer() {
            return (topic, data) -> {
                try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(data))) {
                    String id = in.readUTF();
                    String type = in.readUTF();
                    String key = in.readUTF();
                    byte[] payload = new byte[in.readInt()];
                    in.readFully(payload);
                    return new Parsed(id, type, key, new String(payload, StandardCharsets.UTF_8), in.readUTF(),
                            in.readInt(), in.readLong(), in.readLong());
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            };
        }
    }
}
