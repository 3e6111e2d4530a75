package io.stagewise.operators.stage;

import io.stagewise.operators.dedup.EventStatus;
import io.stagewise.operators.event.Event;
import java.time.Duration;
import org.apache.flink.annotation.Internal;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.StateTtlConfig;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;

/**
 * Every piece of keyed state of {@link StageOperator} (uid {@link StageOperator#UID}): names, types
 * and TTL, in one place, so the operator and savepoint tooling read the same definitions. All state
 * is keyed by business key; map entries are per event id.
 *
 * <p>Savepoint compatibility: names, types and whether a state has a TTL are part of every
 * savepoint. Never change them for an existing state (adding or removing a TTL breaks restore);
 * add a new state instead and migrate from the old one on access.
 */
@Internal
public final class StageStateDescriptors {
    /** Event id -> {@link EventStatus}: the dedup record. TTL: the state TTL. */
    public static final String STATUS = "event-status";
    /** Event id -> {@link WorkflowState} while its workflow is under way. TTL: the state TTL. */
    public static final String WORKFLOW = "workflow";
    /** Event id -> the ladder step its retry record was sent to, while it waits there. TTL: the state TTL. */
    public static final String LADDER_STEP = "ladder-step";
    /** Per-key ordering: the id of the key's running event. No TTL. */
    public static final String ACTIVE = "ordering-active";
    /** Per-key ordering: the key's waiting events, in arrival order. No TTL. */
    public static final String PARKED = "ordering-parked";
    /** The timer service: one processing-time timer per pending event, namespace = event id. */
    public static final String TIMERS = "stage-timers";

    private StageStateDescriptors() {}

    /**
     * The TTL of dedup and stage records: processing time, refreshed on every write, expired
     * entries never returned.
     */
    public static StateTtlConfig ttl(Duration ttl) {
        return StateTtlConfig.newBuilder(ttl)
                .setUpdateType(StateTtlConfig.UpdateType.OnCreateAndWrite)
                .setStateVisibility(StateTtlConfig.StateVisibility.NeverReturnExpired)
                .build();
    }

    public static MapStateDescriptor<String, EventStatus> status(Duration ttl) {
        return withTtl(new MapStateDescriptor<>(STATUS, Types.STRING, TypeInformation.of(EventStatus.class)), ttl);
    }

    public static MapStateDescriptor<String, WorkflowState> workflow(Duration ttl) {
        return withTtl(new MapStateDescriptor<>(WORKFLOW, Types.STRING, TypeInformation.of(WorkflowState.class)), ttl);
    }

    public static MapStateDescriptor<String, Integer> ladderStep(Duration ttl) {
        return withTtl(new MapStateDescriptor<>(LADDER_STEP, Types.STRING, Types.INT), ttl);
    }

    public static ValueStateDescriptor<String> active() {
        return new ValueStateDescriptor<>(ACTIVE, Types.STRING);
    }

    public static ListStateDescriptor<Event> parked() {
        return new ListStateDescriptor<>(PARKED, TypeInformation.of(Event.class));
    }

    private static <K, V> MapStateDescriptor<K, V> withTtl(MapStateDescriptor<K, V> descriptor, Duration ttl) {
        descriptor.enableTimeToLive(ttl(ttl));
        return descriptor;
    }
}
