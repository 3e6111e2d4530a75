package io.stagewise.operators.stage;

import io.stagewise.operators.event.FailureReason;
import io.stagewise.operators.retry.RetryLadder;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.Map;
import java.util.function.LongSupplier;
import org.apache.flink.metrics.Counter;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.runtime.metrics.DescriptiveStatisticsHistogram;

/**
 * The stage engine's metrics, group {@code stagewise}. Reasons, ladder steps and stages are
 * key/value groups, so reporters turn them into labels (Prometheus: {@code reason="exhausted"}):
 * {@code duplicatesDropped}, {@code retryDuplicatesDropped}, {@code replaysAdmitted},
 * {@code completed}, {@code parked}, {@code retryRecordsResent} (the ladder watchdog), {@code inFlight}, {@code oldestWaitingRetryAgeMs};
 * {@code reason.<reason>.deadLettered}; {@code step.<n>.retriesSent}; per stage
 * {@code stage.<name>.}{@code attempts}, {@code successes}, {@code failuresRetryable},
 * {@code failuresPermanent}, {@code failuresError}, {@code retriesScheduled}, {@code latencyMs}, and for
 * remote stages the gauges {@code inFlight} (calls running now) and {@code inFlightLimit} (the
 * stage's in-flight limit now: fixed, or where the adaptive limit stands).
 */
final class StageMetrics {
    final Counter duplicatesDropped;
    final Counter retryDuplicatesDropped;
    final Counter replaysAdmitted;
    final Counter completed;
    final Counter parked;
    final Counter retryRecordsResent;
    private final Map<FailureReason, Counter> deadLettered = new EnumMap<>(FailureReason.class);
    private final Map<Integer, Counter> retriesSent = new HashMap<>();
    private final Map<String, PerStage> stages = new HashMap<>();

    StageMetrics(MetricGroup stagewise, Workflow workflow, RetryLadder ladder, CallSlots slots,
                 LongSupplier oldestWaitingRetryAgeMillis) {
        duplicatesDropped = stagewise.counter("duplicatesDropped");
        retryDuplicatesDropped = stagewise.counter("retryDuplicatesDropped");
        replaysAdmitted = stagewise.counter("replaysAdmitted");
        completed = stagewise.counter("completed");
        parked = stagewise.counter("parked");
        retryRecordsResent = stagewise.counter("retryRecordsResent");
        for (FailureReason reason : FailureReason.values()) {
            deadLettered.put(reason, stagewise.addGroup("reason", reason.headerValue()).counter("deadLettered"));
        }
        for (int step = 1; step <= ladder.steps(); step++) {
            retriesSent.put(step, stagewise.addGroup("step", Integer.toString(step)).counter("retriesSent"));
        }
        stagewise.gauge("inFlight", slots::inFlight);
        stagewise.gauge("oldestWaitingRetryAgeMs", oldestWaitingRetryAgeMillis::getAsLong);
        for (Workflow.Stage stage : workflow.stages()) {
            MetricGroup group = stagewise.addGroup("stage", stage.name());
            stages.put(stage.name(), new PerStage(group));
            if (!stage.isLocal()) {
                group.gauge("inFlight", () -> slots.inFlight(stage.name()));
                group.gauge("inFlightLimit", () -> slots.limit(stage.name()));
            }
        }
    }

    Counter deadLettered(FailureReason reason) {
        return deadLettered.get(reason);
    }

    Counter retriesSent(int step) {
        return retriesSent.get(step);
    }

    PerStage stage(String name) {
        return stages.get(name);
    }

    /** One stage's counters and call latency. */
    static final class PerStage {
        /** The stage's group ({@code stagewise.stage.<name>}): a remote stage adds its own metrics here. */
        final MetricGroup group;
        final Counter attempts;
        final Counter successes;
        final Counter failuresRetryable;
        final Counter failuresPermanent;
        final Counter failuresError;
        final Counter retriesScheduled;
        final DescriptiveStatisticsHistogram latency;

        PerStage(MetricGroup group) {
            this.group = group;
            attempts = group.counter("attempts");
            successes = group.counter("successes");
            failuresRetryable = group.counter("failuresRetryable");
            failuresPermanent = group.counter("failuresPermanent");
            failuresError = group.counter("failuresError");
            retriesScheduled = group.counter("retriesScheduled");
            latency = group.histogram("latencyMs", new DescriptiveStatisticsHistogram(1000));
        }
    }
}
