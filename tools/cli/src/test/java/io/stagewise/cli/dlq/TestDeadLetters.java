package io.stagewise.cli.dlq;

import io.stagewise.operators.event.DeadLetter;
import io.stagewise.operators.event.FailureReason;
import io.stagewise.operators.event.Origin;
import io.stagewise.sinks.kafka.DeadLetterSerializer;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.record.TimestampType;

/** Dead letters and input records as the pipeline writes them, for tests. */
public final class TestDeadLetters {
    private TestDeadLetters() {}

    /** A payment in the event format of docs/event-format.md. */
    public static byte[] payment(String id, String account, String amount) {
        return ("{\"id\":\"" + id + "\",\"type\":\"payment.requested\",\"key\":\"" + account + "\","
                + "\"occurredAt\":\"2026-11-27T18:00:00Z\",\"payload\":{\"account\":\"" + account + "\",\"amount\":\""
                + amount + "\",\"currency\":\"EUR\",\"merchant\":\"m-1\"}}").getBytes(StandardCharsets.UTF_8);
    }

    /** A dead letter with every field the pipeline sets. */
    public static DeadLetter letter(String id, String account, byte[] value, FailureReason reason, String stage,
                                    Origin origin, long failureAt, String progress) {
        DeadLetter letter = new DeadLetter();
        letter.eventId = id;
        letter.recordKey = account == null ? null : account.getBytes(StandardCharsets.UTF_8);
        letter.value = value;
        letter.origin = origin;
        letter.stage = stage;
        letter.reason = reason;
        letter.failureClass = reason == FailureReason.MALFORMED
                ? "io.stagewise.operators.event.MalformedEventException" : "io.stagewise.operators.stage.PermanentStageException";
        letter.failureMessage = reason.headerValue() + " failure of " + id + " at " + stage;
        letter.failureAt = failureAt;
        letter.retryCount = reason == FailureReason.MALFORMED ? 0 : 1;
        letter.progress = progress;
        return letter;
    }

    /** Progress after a permanent rejection at {@code charge}: validate done, charge pending with generation 2. */
    public static String declinedAtCharge(String id) {
        return "{\"stages\":{\"validate\":{\"output\":{\"account\":\"acct\"},\"attempts\":1,\"completedAt\":1764266400000,"
                + "\"key\":\"" + id + ":validate\"}},\"pending\":{\"stage\":\"charge\",\"attempts\":1,\"keyGeneration\":2}}";
    }

    /** The record the pipeline's DLQ sink writes for {@code letter}. */
    public static ProducerRecord<byte[], byte[]> dlqRecord(String dlqTopic, DeadLetter letter) {
        return new DeadLetterSerializer(dlqTopic).serialize(letter, null, null);
    }

    /** {@code record} as a consumer reads it back at the given coordinates. */
    public static ConsumerRecord<byte[], byte[]> consumed(ProducerRecord<byte[], byte[]> record, int partition,
                                                          long offset, long timestamp) {
        return new ConsumerRecord<>(record.topic(), partition, offset, timestamp, TimestampType.CREATE_TIME,
                record.key() == null ? -1 : record.key().length, record.value() == null ? -1 : record.value().length,
                record.key(), record.value(), new RecordHeaders(record.headers().toArray()), Optional.empty());
    }

    /** A plain input record (no headers) at the given coordinates. */
    public static ConsumerRecord<byte[], byte[]> input(String topic, int partition, long offset, long timestamp,
                                                       String account, byte[] value) {
        return consumed(new ProducerRecord<>(topic, account.getBytes(StandardCharsets.UTF_8), value), partition,
                offset, timestamp);
    }

    public static String header(ConsumerRecord<byte[], byte[]> record, String name) {
        var header = record.headers().lastHeader(name);
        return header == null ? null : new String(header.value(), StandardCharsets.UTF_8);
    }

    public static String header(ProducerRecord<byte[], byte[]> record, String name) {
        var header = record.headers().lastHeader(name);
        return header == null ? null : new String(header.value(), StandardCharsets.UTF_8);
    }
}
