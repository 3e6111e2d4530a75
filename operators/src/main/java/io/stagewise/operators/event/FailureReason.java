package io.stagewise.operators.event;

import org.apache.flink.annotation.PublicEvolving;
import java.util.Locale;

/** Why a record left the pipeline for the DLQ: the values of {@code stagewise.failure.reason}. */
@PublicEvolving
public enum FailureReason {
    /** Not valid JSON, missing {@code id}/{@code type}, or over the size limit. */
    MALFORMED,
    /** A definitive rejection: business rule or HTTP 4xx other than 409/429. */
    PERMANENT,
    /** Retryable failures that used up every in-operator attempt and every retry step. */
    EXHAUSTED,
    /** An unexpected exception in stage code. */
    ERROR;

    /** The header value: lower case, as docs/topics-and-headers.md spells it. */
    public String headerValue() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static FailureReason fromHeaderValue(String value) {
        return FailureReason.valueOf(value.toUpperCase(Locale.ROOT));
    }
}
