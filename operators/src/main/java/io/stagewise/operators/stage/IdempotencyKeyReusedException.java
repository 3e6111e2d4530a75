package io.stagewise.operators.stage;

/**
 * The downstream service has seen this idempotency key with other parameters (HTTP 422
 * {@code idempotency_key_reused}). Not a definitive rejection: the first request under the key may
 * have taken effect. The event is dead-lettered as {@code error} and its key generation is NOT
 * bumped, so no replay can apply the effect a second time (docs/failures.md).
 */
public class IdempotencyKeyReusedException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public IdempotencyKeyReusedException(String message) {
        super(message);
    }
}
