package io.stagewise.cli.dlq;

import io.stagewise.operators.event.FailureReason;
import io.stagewise.operators.event.StagewiseHeaders;
import io.stagewise.operators.stage.Progress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.Header;

/**
 * One record of a DLQ topic as the tooling sees it: its DLQ coordinates, the original key and value
 * bytes (untouched) and the headers of docs/topics-and-headers.md, UTF-8 decoded.
 *
 * <p>Tolerant by design: a record missing headers or carrying unparsable ones is still listed and
 * shown (with blanks), because the DLQ is where broken things end up; {@link #missingForReplay()}
 * says what would make a replay of it unsafe.
 */
public final class DeadLetterRecord {
    /** Headers a dead letter needs so that a replay keeps its identity, origin and progress. */
    static final String[] REQUIRED_FOR_REPLAY = {
        StagewiseHeaders.EVENT_ID, StagewiseHeaders.ORIGIN_TOPIC, StagewiseHeaders.ORIGIN_PARTITION,
        StagewiseHeaders.ORIGIN_OFFSET, StagewiseHeaders.ORIGIN_TIMESTAMP, StagewiseHeaders.PROGRESS
    };

    private final String topic;
    private final int partition;
    private final long offset;
    private final long timestamp;
    private final byte[] key;
    private final byte[] value;
    private final Map<String, String> headers;

    public DeadLetterRecord(String topic, int partition, long offset, long timestamp, byte[] key, byte[] value,
                            Map<String, String> headers) {
        this.topic = topic;
        this.partition = partition;
        this.offset = offset;
        this.timestamp = timestamp;
        this.key = key;
        this.value = value;
        this.headers = Collections.unmodifiableMap(new LinkedHashMap<>(headers));
    }

    /** Reads a DLQ record; every header is kept (last value of each name), in record order. */
    public static DeadLetterRecord of(ConsumerRecord<byte[], byte[]> record) {
        Map<String, String> headers = new LinkedHashMap<>();
        for (Header header : record.headers()) {
            headers.remove(header.key());
            headers.put(header.key(), header.value() == null ? "" : new String(header.value(), StandardCharsets.UTF_8));
        }
        return new DeadLetterRecord(record.topic(), record.partition(), record.offset(), record.timestamp(),
                record.key(), record.value(), headers);
    }

    /** The DLQ coordinates {@code topic/partition/offset}: what {@code stagewise.replay-of} holds after a replay. */
    public String coordinates() {
        return topic + "/" + partition + "/" + offset;
    }

    public String topic() {
        return topic;
    }

    public int partition() {
        return partition;
    }

    public long offset() {
        return offset;
    }

    /** The DLQ record's own Kafka timestamp (epoch ms). */
    public long timestamp() {
        return timestamp;
    }

    /** The original record key, untouched (may be null). */
    public byte[] key() {
        return key;
    }

    /** The original record value, untouched (may be null). */
    public byte[] value() {
        return value;
    }

    /** Every header, UTF-8 decoded, in record order. */
    public Map<String, String> headers() {
        return headers;
    }

    public Optional<String> header(String name) {
        return Optional.ofNullable(headers.get(name));
    }

    /** {@code stagewise.event-id}, or {@code ""} (a malformed record may have none). */
    public String eventId() {
        return headers.getOrDefault(StagewiseHeaders.EVENT_ID, "");
    }

    public String stage() {
        return headers.getOrDefault(StagewiseHeaders.FAILURE_STAGE, "");
    }

    /** {@code stagewise.failure.reason} as written, lower case (may be blank or unknown). */
    public String reasonText() {
        return headers.getOrDefault(StagewiseHeaders.FAILURE_REASON, "").toLowerCase(Locale.ROOT);
    }

    /** The failure reason, or empty when the header is missing or not one of the four reasons. */
    public Optional<FailureReason> reason() {
        try {
            return Optional.of(FailureReason.fromHeaderValue(reasonText()));
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    public boolean isMalformed() {
        return reason().orElse(null) == FailureReason.MALFORMED;
    }

    /** {@code stagewise.failure.at} (epoch ms), or empty when missing or not a number. */
    public Optional<Long> failureAt() {
        return number(StagewiseHeaders.FAILURE_AT);
    }

    /** {@code stagewise.retry.count}, or empty when missing or not a number. */
    public Optional<Long> retryCount() {
        return number(StagewiseHeaders.RETRY_COUNT);
    }

    /** Where the event first entered: {@code topic/partition/offset} from the origin headers, or {@code ""}. */
    public String origin() {
        String originTopic = headers.get(StagewiseHeaders.ORIGIN_TOPIC);
        if (originTopic == null) {
            return "";
        }
        return originTopic + "/" + headers.getOrDefault(StagewiseHeaders.ORIGIN_PARTITION, "?") + "/"
                + headers.getOrDefault(StagewiseHeaders.ORIGIN_OFFSET, "?");
    }

    /**
     * The identity this dead letter stands for: the event id, or for a record without one (malformed
     * input) its origin, else its own coordinates. Two dead letters with the same identity are the
     * same event failing more than once (after a replay).
     */
    public String identity() {
        if (!eventId().isEmpty()) {
            return "id:" + eventId();
        }
        return origin().isEmpty() ? "dlq:" + coordinates() : "origin:" + origin();
    }

    /**
     * What would make a replay of this record unsafe: required headers that are missing, origin
     * numbers or progress that do not parse. Empty when a replay keeps identity, origin and progress.
     */
    public List<String> replayProblems() {
        List<String> problems = new ArrayList<>();
        for (String name : REQUIRED_FOR_REPLAY) {
            if (name.equals(StagewiseHeaders.EVENT_ID) && isMalformed()) {
                continue; // unparsable input may have no id: its origin is its identity
            }
            String value = headers.get(name);
            if (value == null || (value.isBlank() && !name.equals(StagewiseHeaders.PROGRESS))) {
                problems.add("no " + name);
            }
        }
        for (String name : new String[] {StagewiseHeaders.ORIGIN_PARTITION, StagewiseHeaders.ORIGIN_OFFSET,
                StagewiseHeaders.ORIGIN_TIMESTAMP}) {
            if (headers.containsKey(name) && !headers.get(name).isBlank() && number(name).isEmpty()) {
                problems.add(name + " is not a number");
            }
        }
        String progress = headers.get(StagewiseHeaders.PROGRESS);
        if (progress != null) {
            try {
                Progress.parse(progress);
            } catch (IllegalArgumentException e) {
                problems.add(StagewiseHeaders.PROGRESS + " is not a JSON object");
            }
        }
        return problems;
    }

    private Optional<Long> number(String name) {
        String text = headers.get(name);
        if (text == null) {
            return Optional.empty();
        }
        try {
            return Optional.of(Long.parseLong(text.trim()));
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }

    @Override
    public String toString() {
        return "DeadLetterRecord{" + coordinates() + ", id=" + eventId() + ", reason=" + reasonText()
                + ", stage=" + stage() + "}";
    }
}
