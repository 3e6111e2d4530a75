package io.stagewise.operators.stage;

import java.lang.reflect.Type;
import java.util.Map;
import org.apache.flink.annotation.Internal;
import org.apache.flink.api.common.serialization.SerializerConfig;
import org.apache.flink.api.common.typeinfo.TypeInfoFactory;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeutils.TypeSerializer;

/** The type of {@link WorkflowRun} in keyed state: its explicit {@link WorkflowRunSerializer}, never a POJO or Kryo. */
@Internal
public final class WorkflowRunTypeInfo extends TypeInformation<WorkflowRun> {
    private static final long serialVersionUID = 1L;

    public static final WorkflowRunTypeInfo INSTANCE = new WorkflowRunTypeInfo();

    private WorkflowRunTypeInfo() {}

    /** Lets {@code TypeInformation.of(WorkflowRun.class)} find this type. */
    public static final class Factory extends TypeInfoFactory<WorkflowRun> {
        @Override
        public TypeInformation<WorkflowRun> createTypeInfo(Type t, Map<String, TypeInformation<?>> genericParameters) {
            return INSTANCE;
        }
    }

    @Override
    public boolean isBasicType() {
        return false;
    }

    @Override
    public boolean isTupleType() {
        return false;
    }

    @Override
    public int getArity() {
        return 1;
    }

    @Override
    public int getTotalFields() {
        return 1;
    }

    @Override
    public Class<WorkflowRun> getTypeClass() {
        return WorkflowRun.class;
    }

    @Override
    public boolean isKeyType() {
        return false;
    }

    @Override
    public TypeSerializer<WorkflowRun> createSerializer(SerializerConfig config) {
        return WorkflowRunSerializer.INSTANCE;
    }

    @Override
    public String toString() {
        return "WorkflowRun(explicit serializer v1)";
    }

    @Override
    public boolean equals(Object obj) {
        return obj instanceof WorkflowRunTypeInfo;
    }

    @Override
    public int hashCode() {
        return WorkflowRunTypeInfo.class.hashCode();
    }

    @Override
    public boolean canEqual(Object obj) {
        return obj instanceof WorkflowRunTypeInfo;
    }
}
