package io.stagewise.jobs.gateway.internal;

import io.stagewise.jobs.gateway.Fault;
import io.stagewise.jobs.gateway.FaultPolicy;

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
