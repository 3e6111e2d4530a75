package io.stagewise.operators.stage;

import io.stagewise.operators.event.ExplicitTypeInfo;
import java.lang.reflect.Type;
import java.util.Map;
import org.apache.flink.annotation.Internal;
import org.apache.flink.api.common.typeinfo.TypeInfoFactory;
import org.apache.flink.api.common.typeinfo.TypeInformation;

/** The type of {@link WorkflowRun} in keyed state: its explicit {@link WorkflowRunSerializer}, never a POJO or Kryo. */
@Internal
public final class WorkflowRunTypeInfo extends ExplicitTypeInfo<WorkflowRun> {
    private static final long serialVersionUID = 1L;

    public static final WorkflowRunTypeInfo INSTANCE = new WorkflowRunTypeInfo();

    private WorkflowRunTypeInfo() {
        super(WorkflowRun.class, WorkflowRunSerializer.INSTANCE, "WorkflowRun(explicit serializer v1)");
    }

    /** Lets {@code TypeInformation.of(WorkflowRun.class)} find this type. */
    public static final class Factory extends TypeInfoFactory<WorkflowRun> {
        @Override
        public TypeInformation<WorkflowRun> createTypeInfo(Type t, Map<String, TypeInformation<?>> genericParameters) {
            return INSTANCE;
        }
    }
}
