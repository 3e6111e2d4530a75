package io.stagewise.testkit;

/**
 * A problem the user of the test kit can fix (bad generator settings, unreachable broker). The
 * launcher prints its message without a stack trace and exits 2.
 */
public class SandboxException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public SandboxException(String message) {
        super(message);
    }

    public SandboxException(String message, Throwable cause) {
        super(message, cause);
    }
}
