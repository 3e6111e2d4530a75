package io.stagewise.gateway;

/**
 * A problem the operator of the gateway can fix (no PostgreSQL URL, database unreachable, port
 * taken). The launcher prints its message without a stack trace and exits 2.
 */
public class GatewayException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public GatewayException(String message) {
        super(message);
    }

    public GatewayException(String message, Throwable cause) {
        super(message, cause);
    }
}
