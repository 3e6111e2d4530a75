package io.stagewise.gateway;

import io.stagewise.gateway.internal.ExecutionHook;
import java.time.Duration;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.Objects;
import java.util.Set;

/**
 * How a {@link GatewayServer} listens and misbehaves. Immutable and validated when built: a
 * setting out of range fails {@link Builder#build()} with an {@link IllegalArgumentException}
 * naming it.
 */
public final class GatewaySettings {
    /** Enough for 100 concurrent requests that each wait out an added latency, with room to spare. */
    public static final int DEFAULT_THREADS = 128;
    public static final int DEFAULT_MAX_DB_CONNECTIONS = 16;
    public static final Duration DEFAULT_STALE_EXECUTION_TIMEOUT = Duration.ofMinutes(1);

    private final String bindAddress;
    private final int port;
    private final int threads;
    private final int maxDbConnections;
    private final FaultPolicy faults;
    private final Duration latency;
    private final Duration itemLatency;
    private final long capacityPerSecond;
    private final boolean control;
    private final Set<String> declineAccounts;
    private final Duration staleExecutionTimeout;
    private final ExecutionHook executionHook;

    private GatewaySettings(Builder b) {
        this.bindAddress = b.bindAddress;
        this.port = b.port;
        this.threads = b.threads;
        this.maxDbConnections = b.maxDbConnections;
        this.faults = b.faults;
        this.latency = b.latency;
        this.itemLatency = b.itemLatency;
        this.capacityPerSecond = b.capacityPerSecond;
        this.control = b.control;
        this.declineAccounts = Set.copyOf(b.declineAccounts);
        this.staleExecutionTimeout = b.staleExecutionTimeout;
        this.executionHook = b.executionHook;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A well-behaved gateway on a free loopback port. */
    public static GatewaySettings defaults() {
        return builder().build();
    }

    /** Address the server binds to (default {@code 127.0.0.1}). */
    public String bindAddress() {
        return bindAddress;
    }

    /** TCP port; 0 picks a free one (see {@link GatewayServer#port()}). Default 0. */
    public int port() {
        return port;
    }

    /** Request threads; requests beyond them queue (default {@value #DEFAULT_THREADS}). */
    public int threads() {
        return threads;
    }

    /** Size of the PostgreSQL connection pool (default {@value #DEFAULT_MAX_DB_CONNECTIONS}). */
    public int maxDbConnections() {
        return maxDbConnections;
    }

    /** Which requests get a transient 503 or lose their response (default: none). */
    public FaultPolicy faults() {
        return faults;
    }

    /**
     * Added to every request before it is answered; a request that executes spends it while
     * executing, holding its key (so a concurrent repeat gets 409). Default zero.
     */
    public Duration latency() {
        return latency;
    }

    /** Added per item to a batch request: a batch of n items takes {@code latency + n x itemLatency}. Default zero. */
    public Duration itemLatency() {
        return itemLatency;
    }

    /**
     * Items per second the batch endpoint takes (a token bucket of one second's worth); a batch that
     * does not fit is answered 503 before anything executes. 0 (the default) = unlimited.
     */
    public long capacityPerSecond() {
        return capacityPerSecond;
    }

    /** Serve {@code /control/latency} (tests and benchmarks: change the latencies and capacity at run time). Default off. */
    public boolean control() {
        return control;
    }

    /** Accounts whose charges are declined with a stored 402 {@code card_declined}. */
    public Set<String> declineAccounts() {
        return declineAccounts;
    }

    /**
     * How long a key may stay {@code executing} before a repeat may take it over: the executor is
     * then presumed dead (a gateway crash between claiming a key and committing). Taking over is
     * safe because the effect and the stored response commit together, guarded by the claim; it
     * must be well above {@link #latency()}.
     */
    public Duration staleExecutionTimeout() {
        return staleExecutionTimeout;
    }

    ExecutionHook executionHook() {
        return executionHook;
    }

    @Override
    public String toString() {
        return "GatewaySettings{bindAddress=" + bindAddress + ", port=" + port + ", threads=" + threads
                + ", maxDbConnections=" + maxDbConnections + ", faults=" + faults + ", latency=" + latency
                + ", itemLatency=" + itemLatency + ", capacityPerSecond=" + capacityPerSecond + ", control=" + control
                + ", declineAccounts=" + declineAccounts + ", staleExecutionTimeout=" + staleExecutionTimeout + "}";
    }

    /** Builds {@link GatewaySettings}; every setter has a default. */
    public static final class Builder {
        private String bindAddress = "127.0.0.1";
        private int port = 0;
        private int threads = DEFAULT_THREADS;
        private int maxDbConnections = DEFAULT_MAX_DB_CONNECTIONS;
        private FaultPolicy faults = FaultPolicy.none();
        private Duration latency = Duration.ZERO;
        private Duration itemLatency = Duration.ZERO;
        private long capacityPerSecond;
        private boolean control;
        private final Set<String> declineAccounts = new LinkedHashSet<>();
        private Duration staleExecutionTimeout = DEFAULT_STALE_EXECUTION_TIMEOUT;
        private ExecutionHook executionHook = ExecutionHook.NONE;

        private Builder() {}

        public Builder bindAddress(String bindAddress) {
            this.bindAddress = Objects.requireNonNull(bindAddress, "bindAddress");
            return this;
        }

        public Builder port(int port) {
            this.port = port;
            return this;
        }

        public Builder threads(int threads) {
            this.threads = threads;
            return this;
        }

        public Builder maxDbConnections(int maxDbConnections) {
            this.maxDbConnections = maxDbConnections;
            return this;
        }

        public Builder faults(FaultPolicy faults) {
            this.faults = Objects.requireNonNull(faults, "faults");
            return this;
        }

        /** Shorthand for {@code faults(FaultPolicy.random(transientFailureRate, timeoutRate, seed))}. */
        public Builder randomFaults(double transientFailureRate, double timeoutRate, long seed) {
            return faults(FaultPolicy.random(transientFailureRate, timeoutRate, seed));
        }

        public Builder latency(Duration latency) {
            this.latency = Objects.requireNonNull(latency, "latency");
            return this;
        }

        public Builder itemLatency(Duration itemLatency) {
            this.itemLatency = Objects.requireNonNull(itemLatency, "itemLatency");
            return this;
        }

        public Builder capacityPerSecond(long capacityPerSecond) {
            this.capacityPerSecond = capacityPerSecond;
            return this;
        }

        public Builder control(boolean control) {
            this.control = control;
            return this;
        }

        public Builder declineAccounts(Collection<String> accounts) {
            Objects.requireNonNull(accounts, "accounts");
            declineAccounts.clear();
            for (String account : accounts) {
                if (account == null || account.isBlank()) {
                    throw new IllegalArgumentException("declineAccounts must not hold a blank account");
                }
                declineAccounts.add(account);
            }
            return this;
        }

        public Builder staleExecutionTimeout(Duration staleExecutionTimeout) {
            this.staleExecutionTimeout = Objects.requireNonNull(staleExecutionTimeout, "staleExecutionTimeout");
            return this;
        }

        /** Test seam: see {@link ExecutionHook}. */
        Builder executionHook(ExecutionHook executionHook) {
            this.executionHook = Objects.requireNonNull(executionHook, "executionHook");
            return this;
        }

        /** @throws IllegalArgumentException naming the first setting out of range */
        public GatewaySettings build() {
            if (bindAddress.isBlank()) {
                throw new IllegalArgumentException("bindAddress must not be blank");
            }
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("port must be in [0, 65535], got " + port);
            }
            if (threads < 1 || threads > 10_000) {
                throw new IllegalArgumentException("threads must be in [1, 10000], got " + threads);
            }
            if (maxDbConnections < 1 || maxDbConnections > 1_000) {
                throw new IllegalArgumentException("maxDbConnections must be in [1, 1000], got " + maxDbConnections);
            }
            if (latency.isNegative()) {
                throw new IllegalArgumentException("latency must be >= 0, got " + latency);
            }
            if (itemLatency.isNegative()) {
                throw new IllegalArgumentException("itemLatency must be >= 0, got " + itemLatency);
            }
            if (capacityPerSecond < 0) {
                throw new IllegalArgumentException("capacityPerSecond must be >= 0 (0 = unlimited), got " + capacityPerSecond);
            }
            if (staleExecutionTimeout.isNegative() || staleExecutionTimeout.isZero()) {
                throw new IllegalArgumentException("staleExecutionTimeout must be positive, got " + staleExecutionTimeout);
            }
            if (staleExecutionTimeout.compareTo(latency) <= 0) {
                // Otherwise every request that waits out its latency looks dead to its repeats.
                throw new IllegalArgumentException("staleExecutionTimeout (" + staleExecutionTimeout
                        + ") must be greater than latency (" + latency + ")");
            }
            return new GatewaySettings(this);
        }
    }
}
