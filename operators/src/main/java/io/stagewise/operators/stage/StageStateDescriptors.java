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
 * <p>In-flight state (an event in the ladder, parked, or the key's running one) has no TTL and
 * is cleared explicitly; the TTL'd {@link #STATUS} and {@link #WORKFLOW} entries of an event in
 * flight are rewritten (so refreshed) at every step, and the state TTL is checked at start against
 * the longest gap ({@link StageSettings#minimumStateTtl()}).
 *
 * <p>Savepoint compatibility: names, types and whether a state has a TTL are part of every
 * savepoint. Never change them for an existing state (adding or removing a TTL breaks restore);
 * add a new state instead and migrate from the old one on access.
 */
@Internal
public final class StageStateDescriptors {
    /** Event id -> {@link EventStatus}: the dedup record. TTL: the state TTL. */
    public static final String STATUS = "event-status";
    /**
     * Event id -> {@link WorkflowState} (progress as JSON text) while its workflow was under way,
     * written by versions before typed progress. TTL: the state TTL. Still registered and read: the
     * stage engine moves its entries into {@link #WORKFLOW_RUN} when it opens, so it is empty after that.
     */
    public static final String WORKFLOW = "workflow";
    /** Event id -> {@link WorkflowRun} while its workflow is under way (replaces {@link #WORKFLOW}). TTL: the state TTL. */
    public static final String WORKFLOW_RUN = "workflow-run";
    /**
     * Event id -> the ladder step its retry record was sent to. TTL: the state TTL. Written by
     * versions before the ladder watchdog; still read, so an event waiting in the ladder at such a
     * savepoint is admitted when its record comes back (without a watchdog: the old version set none).
     */
    public static final String LADDER_STEP = "ladder-step";
    /** Event id -> {@link LadderWait} while it waits in the retry ladder (replaces {@link #LADDER_STEP}). No TTL. */
    public static final String LADDER_WAIT = "ladder-wait";
    /** Per-key ordering: the id of the key's running event. No TTL. */
    public static final String ACTIVE = "ordering-active";
    /**
     * Per-key ordering: the key's waiting events as one list. No TTL. Written by earlier versions
     * (rewritten whole on every release); moved into {@link #PARKED_EVENTS} the first time the key
     * parks or releases an event after a restore.
     */
    public static final String PARKED = "ordering-parked";
    /** Per-key ordering: the key's waiting events, sequence number -> event, bounded by {@link #PARKED_QUEUE}. No TTL. */
    public static final String PARKED_EVENTS = "ordering-parked-events";
    /** Per-key ordering: the {@link ParkedQueue} bounds of {@link #PARKED_EVENTS}. No TTL. */
    public static final String PARKED_QUEUE = "ordering-parked-queue";
    /**
     * The timer service: one processing-time timer per pending event, namespace = event id (a
     * call deadline, a backoff, a slot re-check, or the ladder watchdog).
     */
    public static final String TIMERS = "stage-timers";
    /** The timer service that releases parked events of a key after a restore without per-key ordering. */
    public static final String RELEASE_TIMERS = "stage-ordering-release";

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

    public static MapStateDescriptor<String, WorkflowRun> workflowRun(Duration ttl) {
        return withTtl(new MapStateDescriptor<>(WORKFLOW_RUN, Types.STRING, WorkflowRunTypeInfo.INSTANCE), ttl);
    }

    public static MapStateDescriptor<String, Integer> ladderStep(Duration ttl) {
        return withTtl(new MapStateDescriptor<>(LADDER_STEP, Types.STRING, Types.INT), ttl);
    }

    public static MapStateDescriptor<String, LadderWait> ladderWait() {
        return new MapStateDescriptor<>(LADDER_WAIT, Types.STRING, TypeInformation.of(LadderWait.class));
    }

    public static ValueStateDescriptor<String> active() {
        return new ValueStateDescriptor<>(ACTIVE, Types.STRING);
    }

    public static ListStateDescriptor<Event> parked() {
        return new ListStateDescriptor<>(PARKED, TypeInformation.of(Event.class));
    }

    public static MapStateDescriptor<Long, Event> parkedEvents() {
        return new MapStateDescriptor<>(PARKED_EVENTS, Types.LONG, TypeInformation.of(Event.class));
    }

    public static ValueStateDescriptor<ParkedQueue> parkedQueue() {
        return new ValueStateDescriptor<>(PARKED_QUEUE, TypeInformation.of(ParkedQueue.class));
    }

    private static <K, V> MapStateDescriptor<K, V> withTtl(MapStateDescriptor<K, V> descriptor, Duration ttl) {
        descriptor.enableTimeToLive(ttl(ttl));
        return descriptor;
    }
}
