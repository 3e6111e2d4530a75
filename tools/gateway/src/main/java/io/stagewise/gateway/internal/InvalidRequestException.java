package io.stagewise.gateway.internal;

/** A request the gateway refuses with 400 {@code invalid_request}; never stored for its key. */
public final class InvalidRequestException extends Exception {
    private static final long serialVersionUID = 1L;

    public InvalidRequestException(String message) {
        super(message);
    }
}
