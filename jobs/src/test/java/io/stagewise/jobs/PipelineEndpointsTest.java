package io.stagewise.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import io.stagewise.operators.event.CompletedEvent;
import io.stagewise.operators.event.DeadLetter;
import io.stagewise.operators.event.Event;
import io.stagewise.operators.event.Origin;
import io.stagewise.operators.ingest.EventParser;
import io.stagewise.operators.stage.Workflow;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.stream.Collectors;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.connector.datagen.source.GeneratorFunction;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The assembly seam is real: the same {@link PipelineJob#assemble} as production, fed by a
 * generator source (with duplicates and one malformed record) and writing into collecting sinks,
 * no Kafka anywhere. Each valid id completes once, duplicates are dropped, the malformed record is
 * a dead letter.
 */
class PipelineEndpointsTest {
    private static final int EVENTS = 200;
    private static final Map<String, Queue<Object>> COLLECTED = new ConcurrentHashMap<>();

    @TempDir
    Path tmp;

    @Test
    void aGeneratorSourceAndCollectingSinksRunThroughTheSameAssembly() throws Exception {
        Configuration conf = FlinkSettings.defaults(Duration.ofMillis(200), tmp.resolve("checkpoints"));
        conf.set(StagewiseOptions.BOUNDED, true);
        conf.set(StagewiseOptions.RETRY_TOPICS, 0);
        PipelineSettings settings = PipelineSettings.from(conf);

        // Records 0..EVENTS-1, then every tenth id again, then one malformed record.
        long total = EVENTS + EVENTS / 10 + 1;
        DataGeneratorSource<Event> source = new DataGeneratorSource<>(new Generated(), total,
                RateLimiterStrategy.noOp(), TypeInformation.of(Event.class));
        Endpoints endpoints = new Endpoints(source, new Collecting<>("output"), new Collecting<>("dlq"),
                new Collecting<>("retries"), Optional.empty(), Workflow.named("dedup-only").build());

        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(conf);
        env.setParallelism(2);
        PipelineJob.assemble(env, settings, endpoints);
        env.execute("pipeline-with-test-endpoints");

        List<String> completed = collected("output").stream().map(o -> ((CompletedEvent) o).eventId).toList();
        assertThat(completed).hasSize(EVENTS).doesNotHaveDuplicates();
        assertThat(Set.copyOf(completed)).contains("gen-0", "gen-" + (EVENTS - 1));
        List<DeadLetter> letters = collected("dlq").stream().map(o -> (DeadLetter) o).collect(Collectors.toList());
        assertThat(letters).hasSize(1);
        assertThat(collected("retries")).isEmpty();
        assertThat(env.getConfig().getGlobalJobParameters().toMap())
                .containsEntry(StagewiseOptions.RETRY_TOPICS.key(), "0")
                .containsEntry(StagewiseOptions.INPUT_TOPIC.key(), "payments");
    }

    private static List<Object> collected(String name) {
        return List.copyOf(COLLECTED.getOrDefault(name, new ConcurrentLinkedQueue<>()));
    }

    /** Events as the Kafka deserializer would make them, from the same parser. */
    private static final class Generated implements GeneratorFunction<Long, Event> {
        private static final long serialVersionUID = 1L;

        @Override
        public Event map(Long n) {
            long idNumber = n < EVENTS ? n : (n - EVENTS) * 10;
            String json = n == EVENTS + EVENTS / 10
                    ? "{not json"
                    : "{\"id\":\"gen-" + idNumber + "\",\"type\":\"payment.requested\",\"key\":\"acct-" + (idNumber % 7)
                            + "\",\"payload\":{}}";
            byte[] key = ("acct-" + (idNumber % 7)).getBytes(StandardCharsets.UTF_8);
            return new EventParser(EventParser.DEFAULT_MAX_EVENT_BYTES)
                    .parse(key, json.getBytes(StandardCharsets.UTF_8), new Origin("generated", 0, n, 0L), Map.of());
        }
    }

    /** A Sink V2 that adds every record to a named in-memory queue (one JVM: the mini cluster). */
    private static final class Collecting<T> implements Sink<T> {
        private static final long serialVersionUID = 1L;
        private final String name;

        Collecting(String name) {
            this.name = name;
            COLLECTED.put(name, new ConcurrentLinkedQueue<>());
        }

        @Override
        public SinkWriter<T> createWriter(WriterInitContext context) {
            Queue<Object> queue = COLLECTED.get(name);
            return new SinkWriter<>() {
                @Override
                public void write(T element, Context ctx) {
                    queue.add(element);
                }

                @Override
                public void flush(boolean endOfInput) {}

                @Override
                public void close() {}
            };
        }
    }
}
