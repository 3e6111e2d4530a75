package io.stagewise.operators.event;

import java.io.IOException;
import org.apache.flink.core.memory.DataInputView;
import org.apache.flink.core.memory.DataOutputView;
import org.apache.flink.types.StringValue;

/**
 * The field encodings {@link EventSerializer} and {@link DeadLetterTypeInfo.FieldSerializer} share:
 * byte arrays with their length (+1, 0 = null) and an {@link Origin}'s four fields (its presence is
 * each format's own flag). Part of both formats: changing an encoding here changes both.
 */
final class FieldCodec {
    private FieldCodec() {}

    static byte[] copy(byte[] bytes) {
        return bytes == null ? null : bytes.clone();
    }

    static Origin copy(Origin origin) {
        return origin == null ? null : new Origin(origin.topic, origin.partition, origin.offset, origin.timestamp);
    }

    static void writeBytes(byte[] bytes, DataOutputView target) throws IOException {
        if (bytes == null) {
            target.writeInt(0);
        } else {
            target.writeInt(bytes.length + 1);
            target.write(bytes);
        }
    }

    static byte[] readBytes(DataInputView source) throws IOException {
        int length = source.readInt();
        if (length == 0) {
            return null;
        }
        byte[] bytes = new byte[length - 1];
        source.readFully(bytes);
        return bytes;
    }

    /** A present origin; the caller's flag says whether there is one. */
    static void writeOrigin(Origin origin, DataOutputView target) throws IOException {
        StringValue.writeString(origin.topic, target);
        target.writeInt(origin.partition);
        target.writeLong(origin.offset);
        target.writeLong(origin.timestamp);
    }

    static Origin readOrigin(DataInputView source) throws IOException {
        return new Origin(StringValue.readString(source), source.readInt(), source.readLong(), source.readLong());
    }
}
