package io.stagewise.gateway;

/** What the gateway does wrong, on purpose, to one request (see {@link FaultPolicy}). */
public enum Fault {
    /** Serve the request normally. */
    NONE,
    /**
     * Answer 503 {@code service_unavailable} before executing: nothing is recorded, so a retry with
     * the same key executes as if this request had never arrived.
     */
    TRANSIENT,
    /**
     * Serve the request normally (execute and store the response, or replay it), then lose the
     * response: the connection is closed without a status line. The client sees an I/O error and
     * cannot tell whether the effect happened: the ambiguous ack. A retry with the same key gets the
     * stored response replayed.
     */
    TIMEOUT
}
