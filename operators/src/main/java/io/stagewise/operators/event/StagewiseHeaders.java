package io.stagewise.operators.event;

import org.apache.flink.annotation.PublicEvolving;

/** The Kafka header names of docs/topics-and-headers.md (a contract: values are UTF-8 strings). */
@PublicEvolving
public final class StagewiseHeaders {
    public static final String EVENT_ID = "stagewise.event-id";
    public static final String ORIGIN_TOPIC = "stagewise.origin.topic";
    public static final String ORIGIN_PARTITION = "stagewise.origin.partition";
    public static final String ORIGIN_OFFSET = "stagewise.origin.offset";
    public static final String ORIGIN_TIMESTAMP = "stagewise.origin.timestamp";
    public static final String RETRY_COUNT = "stagewise.retry.count";
    public static final String RETRY_DUE_AT = "stagewise.retry.due-at";
    public static final String FAILURE_STAGE = "stagewise.failure.stage";
    public static final String FAILURE_REASON = "stagewise.failure.reason";
    public static final String FAILURE_CLASS = "stagewise.failure.class";
    public static final String FAILURE_MESSAGE = "stagewise.failure.message";
    public static final String FAILURE_AT = "stagewise.failure.at";
    /** DLQ records with an exception: the class of its root cause (the innermost {@code getCause()}). */
    public static final String FAILURE_CAUSE_CLASS = "stagewise.failure.cause-class";
    /** DLQ records with an exception: its stack trace, at most {@link #MAX_STACKTRACE_BYTES} of UTF-8. */
    public static final String FAILURE_STACKTRACE = "stagewise.failure.stacktrace";
    /** DLQ records: the name of the Flink job that wrote it. */
    public static final String JOB = "stagewise.job";
    public static final String PROGRESS = "stagewise.progress";
    public static final String REPLAY_OF = "stagewise.replay-of";
    /** On records re-injected by reconciliation: the reconcile run id and the discrepancy class. */
    public static final String REPAIR_OF = "stagewise.repair-of";

    /** Headers every DLQ record carries (retry records add {@link #RETRY_DUE_AT}). */
    public static final String[] DEAD_LETTER_HEADERS = {
        EVENT_ID, ORIGIN_TOPIC, ORIGIN_PARTITION, ORIGIN_OFFSET, ORIGIN_TIMESTAMP, RETRY_COUNT,
        FAILURE_STAGE, FAILURE_REASON, FAILURE_CLASS, FAILURE_MESSAGE, FAILURE_AT, PROGRESS
    };

    /** Failure messages are truncated to this many bytes of UTF-8. */
    public static final int MAX_FAILURE_MESSAGE_BYTES = 1024;

    /**
     * The largest {@link #PROGRESS} header Stagewise writes, in bytes of UTF-8: it must fit, with
     * every other header, in the room the DLQ and retry topics keep above the input's record size
     * (64 KiB). An event whose stage outputs would grow it past this is dead-lettered as
     * {@code error}, its last output left out.
     */
    public static final int MAX_PROGRESS_BYTES = 48 * 1024;

    /** Stack traces are truncated to this many bytes of UTF-8. */
    public static final int MAX_STACKTRACE_BYTES = 8 * 1024;

    /** The stage name recorded for input that could not be parsed. */
    public static final String INGEST_STAGE = "ingest";

    /**
     * The stage name recorded for an event that completed every stage but whose output record is
     * larger than the output topic takes (reason {@code error}).
     */
    public static final String OUTPUT_STAGE = "output";

    private StagewiseHeaders() {}
}
