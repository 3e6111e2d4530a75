package io.stagewise.operators.ingest;

import org.apache.flink.annotation.PublicEvolving;
import io.stagewise.operators.event.DeadLetter;
import io.stagewise.operators.event.DeadLetterTypeInfo;
import io.stagewise.operators.event.Event;
import io.stagewise.operators.event.EventTypeInfo;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.java.typeutils.ResultTypeQueryable;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.functions.ProcessFunction;
import org.apache.flink.util.Collector;
import org.apache.flink.util.OutputTag;

/**
 * Passes valid events on and sends malformed ones to {@link #DEAD_LETTERS} with reason
 * {@code malformed}, stage {@code ingest}. Counts them in metric {@code stagewise.malformed}.
 */
@PublicEvolving
public final class MalformedSplit extends ProcessFunction<Event, Event> implements ResultTypeQueryable<Event> {
    private static final long serialVersionUID = 1L;

    public static final String UID = "stagewise-malformed-split";

    public static final OutputTag<DeadLetter> DEAD_LETTERS =
            new OutputTag<>("malformed-dead-letters", DeadLetterTypeInfo.INSTANCE);

    private transient Counter malformed;

    @Override
    public void open(OpenContext openContext) {
        malformed = getRuntimeContext().getMetricGroup().addGroup("stagewise").counter("malformed");
    }

    @Override
    public void processElement(Event event, Context ctx, Collector<Event> out) {
        if (event.isMalformed()) {
            malformed.inc();
            ctx.output(DEAD_LETTERS, DeadLetter.malformed(event, ctx.timerService().currentProcessingTime()));
        } else {
            out.collect(event);
        }
    }

    /** Valid events go on with the explicit {@link EventTypeInfo}: the keyed shuffle after it uses no reflection. */
    @Override
    public TypeInformation<Event> getProducedType() {
        return EventTypeInfo.INSTANCE;
    }
}
