package io.stagewise.operators.dedup;

import io.stagewise.operators.event.Event;
import java.time.Duration;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.StateTtlConfig;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;

/**
 * Drops re-delivered events by event id, following {@link DedupRule}.
 *
 * <p>Keyed by event id. The status lives in keyed state with a processing-time TTL (default
 * 7 days), so the dedup window survives failures (it is part of every checkpoint) and state does
 * not grow without bound. Protects against producer retries, duplicate publishes and re-delivery
 * after a consumer rollback; it does not protect against a duplicate that arrives after the TTL.
 *
 * <p>Metrics, group {@code stagewise}: {@code duplicatesDropped}, {@code replaysAdmitted}.
 */
public final class DedupFunction extends KeyedProcessFunction<String, Event, Event> {
    private static final long serialVersionUID = 1L;

    public static final String UID = "stagewise-dedup";
    public static final String STATUS_STATE = "event-status";
    public static final Duration DEFAULT_TTL = Duration.ofDays(7);

    private final Duration ttl;

    private transient ValueState<EventStatus> status;
    private transient Counter duplicatesDropped;
    private transient Counter replaysAdmitted;

    public DedupFunction(Duration ttl) {
        if (ttl == null || ttl.isNegative() || ttl.isZero()) {
            throw new IllegalArgumentException("dedup TTL must be positive, got " + ttl);
        }
        this.ttl = ttl;
    }

    /** The status descriptor with its TTL: shared by every operator that reads event status. */
    public static ValueStateDescriptor<EventStatus> statusDescriptor(Duration ttl) {
        ValueStateDescriptor<EventStatus> descriptor =
                new ValueStateDescriptor<>(STATUS_STATE, TypeInformation.of(EventStatus.class));
        descriptor.enableTimeToLive(StateTtlConfig.newBuilder(ttl)
                .setUpdateType(StateTtlConfig.UpdateType.OnCreateAndWrite)
                .setStateVisibility(StateTtlConfig.StateVisibility.NeverReturnExpired)
                .build());
        return descriptor;
    }

    @Override
    public void open(OpenContext openContext) {
        status = getRuntimeContext().getState(statusDescriptor(ttl));
        var metrics = getRuntimeContext().getMetricGroup().addGroup("stagewise");
        duplicatesDropped = metrics.counter("duplicatesDropped");
        replaysAdmitted = metrics.counter("replaysAdmitted");
    }

    @Override
    public void processElement(Event event, Context ctx, Collector<Event> out) throws Exception {
        EventStatus recorded = status.value();
        if (!DedupRule.admit(recorded, event.isReplay())) {
            duplicatesDropped.inc();
            return;
        }
        if (recorded != null) {
            replaysAdmitted.inc();
        }
        status.update(EventStatus.IN_PROGRESS);
        out.collect(event);
    }
}
