package io.stagewise.gateway.internal;

/**
 * Runs on the request thread after a request has claimed its idempotency key and before its
 * effect commits: the window in which a repeat gets 409. Tests use it to hold a request there or
 * to make execution fail; production gateways have none.
 */
@FunctionalInterface
public interface ExecutionHook {
    ExecutionHook NONE = (endpoint, key) -> {};

    void beforeCommit(String endpoint, String idempotencyKey) throws Exception;
}
