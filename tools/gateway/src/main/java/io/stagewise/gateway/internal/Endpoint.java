package io.stagewise.gateway.internal;

import java.util.Optional;

/** The gateway's effectful endpoints; each {@code POST} needs an {@code Idempotency-Key}. */
public enum Endpoint {
    CHARGES("charges"),
    NOTIFICATIONS("notifications");

    private final String id;

    Endpoint(String id) {
        this.id = id;
    }

    /** The name used in paths ({@code /charges}), audit queries and fault policies. */
    public String id() {
        return id;
    }

    public String path() {
        return "/" + id;
    }

    public static Optional<Endpoint> byId(String id) {
        for (Endpoint endpoint : values()) {
            if (endpoint.id.equals(id)) {
                return Optional.of(endpoint);
            }
        }
        return Optional.empty();
    }
}
