package io.stagewise.operators.event;

import org.apache.flink.annotation.Internal;
import org.apache.flink.api.common.serialization.SerializerConfig;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeutils.TypeSerializer;

/**
 * The type of a Stagewise class that has an explicit, versioned {@link TypeSerializer} (never
 * Flink's reflective POJO serializer, never Kryo): one atomic field, the given serializer for every
 * configuration. Two instances are equal when they are of the same subclass.
 *
 * <p>A subclass only names the class and its serializer. The serializer's snapshot class (what a
 * savepoint records) belongs to the serializer, not to this type, so moving a type onto this base
 * changes nothing a savepoint holds.
 */
@Internal
public abstract class ExplicitTypeInfo<T> extends TypeInformation<T> {
    private static final long serialVersionUID = 1L;

    private final Class<T> type;
    private final TypeSerializer<T> serializer;
    private final String description;

    protected ExplicitTypeInfo(Class<T> type, TypeSerializer<T> serializer, String description) {
        this.type = type;
        this.serializer = serializer;
        this.description = description;
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
    public Class<T> getTypeClass() {
        return type;
    }

    @Override
    public boolean isKeyType() {
        return false;
    }

    @Override
    public TypeSerializer<T> createSerializer(SerializerConfig config) {
        return serializer;
    }

    @Override
    public String toString() {
        return description;
    }

    @Override
    public boolean equals(Object obj) {
        return obj != null && obj.getClass() == getClass();
    }

    @Override
    public int hashCode() {
        return getClass().hashCode();
    }

    @Override
    public boolean canEqual(Object obj) {
        return obj != null && obj.getClass() == getClass();
    }
}
