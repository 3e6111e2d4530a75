package io.stagewise.sinks.kafka;

import org.apache.flink.annotation.PublicEvolving;
import io.stagewise.operators.event.DeadLetter;
import io.stagewise.operators.event.StagewiseHeaders;
import java.nio.charset.StandardCharsets;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.internals.RecordHeaders;

/**
 * Writes a {@link DeadLetter} to the DLQ topic: the original key and value bytes, untouched, and
 * every header of docs/topics-and-headers.md, plus what only dead letters carry: the root cause's
 * class and the stack trace when there was an exception, and the name of the job that wrote it
 * ({@code stagewise.job}, the running job's name as Flink knows it).
 */
@PublicEvolving
public final class DeadLetterSerializer implements KafkaRecordSerializationSchema<DeadLetter> {
    private static final long serialVersionUID = 1L;

    /** The job-name variable of Flink's metric scopes: every task's metric group carries it. */
    private static final String JOB_NAME_VARIABLE = "<job_name>";
    static final String UNKNOWN_JOB = "unknown";

    private final String topic;
    private transient String jobName;

    public DeadLetterSerializer(String topic) {
        this.topic = topic;
    }

    @Override
    public void open(SerializationSchema.InitializationContext context, KafkaSinkContext sinkContext) {
        // The name the job runs under (env.execute(name), or the cluster's pipeline.name):
        // read from the task, so `flink run` and the local launcher report the same thing.
        jobName = context.getMetricGroup().getAllVariables().getOrDefault(JOB_NAME_VARIABLE, UNKNOWN_JOB);
    }

    @Override
    public ProducerRecord<byte[], byte[]> serialize(DeadLetter letter, KafkaSinkContext context, Long timestamp) {
        RecordHeaders headers = headers(letter);
        if (letter.causeClass != null) {
            put(headers, StagewiseHeaders.FAILURE_CAUSE_CLASS, letter.causeClass);
        }
        if (letter.stacktrace != null) {
            put(headers, StagewiseHeaders.FAILURE_STACKTRACE,
                    DeadLetter.truncate(letter.stacktrace, StagewiseHeaders.MAX_STACKTRACE_BYTES));
        }
        put(headers, StagewiseHeaders.JOB, jobName == null ? UNKNOWN_JOB : jobName);
        // Partition left to the producer: a dead letter keeps its key, so one key's letters stay together.
        return new ProducerRecord<>(topic, null, null, letter.recordKey, letter.value, headers);
    }

    /** The Stagewise headers of a dead letter or retry record (docs/topics-and-headers.md). */
    static RecordHeaders headers(DeadLetter letter) {
        RecordHeaders headers = new RecordHeaders();
        put(headers, StagewiseHeaders.EVENT_ID, letter.eventId == null ? "" : letter.eventId);
        put(headers, StagewiseHeaders.ORIGIN_TOPIC, letter.origin.topic);
        put(headers, StagewiseHeaders.ORIGIN_PARTITION, Integer.toString(letter.origin.partition));
        put(headers, StagewiseHeaders.ORIGIN_OFFSET, Long.toString(letter.origin.offset));
        put(headers, StagewiseHeaders.ORIGIN_TIMESTAMP, Long.toString(letter.origin.timestamp));
        put(headers, StagewiseHeaders.RETRY_COUNT, Integer.toString(letter.retryCount));
        put(headers, StagewiseHeaders.FAILURE_STAGE, letter.stage);
        put(headers, StagewiseHeaders.FAILURE_REASON, letter.reason.headerValue());
        put(headers, StagewiseHeaders.FAILURE_CLASS, letter.failureClass == null ? "" : letter.failureClass);
        put(headers, StagewiseHeaders.FAILURE_MESSAGE, DeadLetter.truncate(letter.failureMessage));
        put(headers, StagewiseHeaders.FAILURE_AT, Long.toString(letter.failureAt));
        put(headers, StagewiseHeaders.PROGRESS, letter.progress == null ? "{}" : letter.progress);
        if (letter.replayOf != null) {
            put(headers, StagewiseHeaders.REPLAY_OF, letter.replayOf);
        }
        return headers;
    }

    static void put(RecordHeaders headers, String name, String value) {
        headers.add(name, value.getBytes(StandardCharsets.UTF_8));
    }
}
