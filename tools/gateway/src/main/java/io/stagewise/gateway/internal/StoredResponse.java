package io.stagewise.gateway.internal;

/** A response as stored for an idempotency key: replayed byte for byte for every repeat. */
public record StoredResponse(int status, byte[] body) {}
