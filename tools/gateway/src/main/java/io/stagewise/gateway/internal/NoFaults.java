package io.stagewise.gateway.internal;

import io.stagewise.gateway.Fault;
import io.stagewise.gateway.FaultPolicy;

/** The policy of a well-behaved gateway. */
public enum NoFaults implements FaultPolicy {
    INSTANCE;

    @Override
    public Fault decide(String endpoint, String idempotencyKey, int requestNumber) {
        return Fault.NONE;
    }

    @Override
    public String toString() {
        return "no faults";
    }
}
