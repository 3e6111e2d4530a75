package io.stagewise.jobs.reconcile;

import io.stagewise.jobs.audit.Audit;
import io.stagewise.operators.event.Event;
import io.stagewise.operators.event.FailureReason;
import io.stagewise.operators.event.Origin;
import io.stagewise.operators.event.StagewiseHeaders;
import io.stagewise.operators.ingest.EventDeserializer;
import io.stagewise.operators.ingest.EventParser;
import io.stagewise.operators.stage.Progress;
import java.util.Map;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.connector.kafka.source.reader.deserializer.KafkaRecordDeserializationSchema;
import org.apache.flink.util.Collector;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/**
 * Turns the records of the input, output and DLQ topics into {@link Tally}s, reading them as the
 * pipeline and the audit do. Never throws on bad bytes: a record the pipeline would call malformed
 * (input) or a malformed dead letter has no event id and contributes nothing.
 */
final class RecordTallies {
    /** Header on records re-injected by {@code stagewise reconcile --repair} (docs/topics-and-headers.md). */
    static final String REPAIR_OF = StagewiseHeaders.REPAIR_OF;

    private RecordTallies() {}

    /** Input records: one input of the id, its time, whether it is the original, a replay or a repair. */
    static final class Input implements KafkaRecordDeserializationSchema<Tally> {
        private static final long serialVersionUID = 1L;
        private final EventParser parser;

        Input(int maxEventBytes) {
            this.parser = new EventParser(maxEventBytes);
        }

        @Override
        public void deserialize(ConsumerRecord<byte[], byte[]> record, Collector<Tally> out) {
            Map<String, String> headers = EventDeserializer.stagewiseHeaders(record.headers());
            Origin here = new Origin(record.topic(), record.partition(), record.offset(), record.timestamp());
            Event event = parser.parse(record.key(), record.value(), here, headers);
            if (event.isMalformed()) {
                return;
            }
            Tally tally = Tally.of(event.id);
            tally.inputs = 1;
            tally.window = true;
            tally.newestInputAt = record.timestamp();
            String repairOf = headers.get(REPAIR_OF);
            if (repairOf != null) {
                tally.repairs = 1;
                tally.lastRepairOf = repairOf;
            }
            if (event.isReplay()) {
                tally.replays = event.replayOf;
            }
            if (repairOf == null && !event.isReplay()) {
                tally.originalPartition = record.partition();
                tally.originalOffset = record.offset();
                tally.originalAt = record.timestamp();
            }
            out.collect(tally);
        }

        @Override
        public TypeInformation<Tally> getProducedType() {
            return TypeInformation.of(Tally.class);
        }
    }

    /** Output records: one output of the id named by {@code stagewise.event-id}. */
    static final class Output implements KafkaRecordDeserializationSchema<Tally> {
        private static final long serialVersionUID = 1L;

        @Override
        public void deserialize(ConsumerRecord<byte[], byte[]> record, Collector<Tally> out) {
            Tally tally = Tally.of(EventDeserializer.stagewiseHeaders(record.headers()).getOrDefault(StagewiseHeaders.EVENT_ID, ""));
            tally.outputs = 1;
            tally.window = true;
            out.collect(tally);
        }

        @Override
        public TypeInformation<Tally> getProducedType() {
            return TypeInformation.of(Tally.class);
        }
    }

    /** Dead letters of valid events: their DLQ coordinates and whether their progress passed charge. */
    static final class DeadLetters implements KafkaRecordDeserializationSchema<Tally> {
        private static final long serialVersionUID = 1L;

        @Override
        public void deserialize(ConsumerRecord<byte[], byte[]> record, Collector<Tally> out) {
            Map<String, String> headers = EventDeserializer.stagewiseHeaders(record.headers());
            String id = headers.get(StagewiseHeaders.EVENT_ID);
            if (id == null || FailureReason.MALFORMED.headerValue().equals(headers.get(StagewiseHeaders.FAILURE_REASON))) {
                return;
            }
            Tally tally = Tally.of(id);
            tally.window = true;
            tally.letters = record.topic() + "/" + record.partition() + "/" + record.offset();
            String progress = headers.get(StagewiseHeaders.PROGRESS);
            try {
                tally.chargedLetter = progress != null && Progress.parse(progress).isCompleted(Audit.CHARGE_STAGE);
            } catch (IllegalArgumentException e) {
                // The audit's invariant (5) reports unreadable progress; here it means no charge is expected.
                tally.chargedLetter = false;
            }
            out.collect(tally);
        }

        @Override
        public TypeInformation<Tally> getProducedType() {
            return TypeInformation.of(Tally.class);
        }
    }
}
