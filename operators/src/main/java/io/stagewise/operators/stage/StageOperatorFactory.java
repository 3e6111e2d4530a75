package io.stagewise.operators.stage;

import org.apache.flink.annotation.PublicEvolving;
import io.stagewise.operators.event.CompletedEvent;
import io.stagewise.operators.event.Event;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.operators.AbstractStreamOperatorFactory;
import org.apache.flink.streaming.api.operators.OneInputStreamOperatorFactory;
import org.apache.flink.streaming.api.operators.StreamOperator;
import org.apache.flink.streaming.api.operators.StreamOperatorParameters;

/** Creates {@link StageOperator}s, handing each the task's mailbox for call results. */
@PublicEvolving
public final class StageOperatorFactory extends AbstractStreamOperatorFactory<CompletedEvent>
        implements OneInputStreamOperatorFactory<Event, CompletedEvent> {
    private static final long serialVersionUID = 1L;

    private final Workflow workflow;
    private final StageSettings settings;
    private final OutputRecordCheck outputCheck;

    public StageOperatorFactory(Workflow workflow, StageSettings settings) {
        this(workflow, settings, OutputRecordCheck.NONE);
    }

    public StageOperatorFactory(Workflow workflow, StageSettings settings, OutputRecordCheck outputCheck) {
        this.workflow = workflow;
        this.settings = settings;
        this.outputCheck = outputCheck;
    }

    /** Applies the workflow, keyed by business key; uid {@link StageOperator#UID}; no output size limit. */
    public static SingleOutputStreamOperator<CompletedEvent> apply(
            DataStream<Event> events, Workflow workflow, StageSettings settings) {
        return apply(events, workflow, settings, OutputRecordCheck.NONE);
    }

    /**
     * Applies the workflow, keyed by business key; uid {@link StageOperator#UID}. A completed event
     * {@code outputCheck} refuses goes to {@link StageOperator#DEAD_LETTERS} instead of the output.
     */
    public static SingleOutputStreamOperator<CompletedEvent> apply(
            DataStream<Event> events, Workflow workflow, StageSettings settings, OutputRecordCheck outputCheck) {
        return events
                .keyBy(event -> event.key, Types.STRING)
                .transform("Stages (" + workflow.name() + ")", TypeInformation.of(CompletedEvent.class),
                        new StageOperatorFactory(workflow, settings, outputCheck))
                .uid(StageOperator.UID);
    }

    @Override
    @SuppressWarnings("unchecked")
    public <T extends StreamOperator<CompletedEvent>> T createStreamOperator(StreamOperatorParameters<CompletedEvent> parameters) {
        return (T) new StageOperator(parameters, workflow, settings, outputCheck, parameters.getMailboxExecutor());
    }

    @Override
    @SuppressWarnings("rawtypes")
    public Class<? extends StreamOperator> getStreamOperatorClass(ClassLoader classLoader) {
        return StageOperator.class;
    }
}
