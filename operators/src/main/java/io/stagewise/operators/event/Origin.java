package io.stagewise.operators.event;

import org.apache.flink.annotation.PublicEvolving;
import java.util.Objects;

/**
 * Where an event first entered Stagewise: topic, partition, offset and record timestamp (epoch ms).
 *
 * <p>Kept unchanged across retries and replays, so a dead letter always points at the record a
 * producer actually wrote. A Flink POJO (public fields, no-arg constructor): never Kryo.
 */
@PublicEvolving
public class Origin {
    public String topic;
    public int partition;
    public long offset;
    public long timestamp;

    public Origin() {}

    public Origin(String topic, int partition, long offset, long timestamp) {
        this.topic = topic;
        this.partition = partition;
        this.offset = offset;
        this.timestamp = timestamp;
    }

    /** The coordinates as {@code topic/partition/offset}, the form {@code stagewise.replay-of} uses. */
    public String coordinates() {
        return topic + "/" + partition + "/" + offset;
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof Origin)) {
            return false;
        }
        Origin other = (Origin) o;
        return partition == other.partition
                && offset == other.offset
                && timestamp == other.timestamp
                && Objects.equals(topic, other.topic);
    }

    @Override
    public int hashCode() {
        return Objects.hash(topic, partition, offset, timestamp);
    }

    @Override
    public String toString() {
        return coordinates() + "@" + timestamp;
    }
}
