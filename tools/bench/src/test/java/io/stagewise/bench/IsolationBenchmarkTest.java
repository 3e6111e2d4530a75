package io.stagewise.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stagewise.jobs.FlinkSettings;
import io.stagewise.jobs.StagewiseException;
import io.stagewise.gateway.Fault;
import io.stagewise.gateway.FaultPolicy;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.apache.flink.api.common.serialization.SimpleStringSchema;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.graph.StreamGraph;
import org.apache.flink.streaming.api.graph.StreamNode;
import org.junit.jupiter.api.Test;

/** The parts of the isolation benchmark that decide what is measured, checked without running it. */
class IsolationBenchmarkTest {
    private static final List<String> IDS = IntStream.range(0, 1000)
            .mapToObj(i -> String.format("pay-42-%07d", i)).collect(Collectors.toList());

    private static InlineRetryJob.Settings inline(int retries) {
        return new InlineRetryJob.Settings(100, retries, Duration.ofMillis(100), Duration.ofSeconds(1), 2.0,
                Duration.ofSeconds(10));
    }

    @Test
    void failingPaymentsAreExactlyTheShareAndTheSameForTheSameSeed() {
        Set<String> failing = IsolationBenchmark.failingPayments(IDS, 0.1, 42);
        assertThat(failing).hasSize(100).isSubsetOf(IDS);
        List<String> reversed = new ArrayList<>(IDS);
        Collections.reverse(reversed);
        assertThat(IsolationBenchmark.failingPayments(reversed, 0.1, 42)).as("independent of the input order")
                .isEqualTo(failing);
        assertThat(IsolationBenchmark.failingPayments(IDS, 0.1, 43)).isNotEqualTo(failing);
    }

    @Test
    void chargesOfFailingPaymentsAlwaysAnswer503AndNothingElseFails() {
        FaultPolicy policy = IsolationBenchmark.chargesAlwaysFailFor(Set.of("pay-42-0000007"));
        for (int request : List.of(1, 2, 9, 1000)) {
            assertThat(policy.decide("charges", "pay-42-0000007:charge", request)).isEqualTo(Fault.TRANSIENT);
            assertThat(policy.decide("charges", "pay-42-0000008:charge", request)).isEqualTo(Fault.NONE);
            assertThat(policy.decide("notifications", "pay-42-0000007:notify", request)).isEqualTo(Fault.NONE);
        }
    }

    @Test
    void inlineRetryBudgetIsTheSumOfTheCappedDelays() {
        // 100, 200, 400, 800, then capped at 1000 four times.
        assertThat(inline(8).totalDelay()).isEqualTo(Duration.ofMillis(5500));
        assertThat(inline(0).totalDelay()).isZero();
        assertThat(inline(8).operatorTimeout()).isGreaterThan(inline(8).totalDelay().plus(Duration.ofSeconds(90)));
        assertThatThrownBy(() -> new InlineRetryJob.Settings(100, 3, Duration.ofSeconds(2), Duration.ofSeconds(1), 2.0,
                Duration.ofSeconds(10))).isInstanceOf(StagewiseException.class).hasMessageContaining("max delay");
    }

    @Test
    void everyInlineOperatorHasAUidAndNoTypeFallsBackToKryo() {
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(
                FlinkSettings.defaults(Duration.ofSeconds(1), Path.of("target", "unused-checkpoints")));
        KafkaSource<String> source = KafkaSource.<String>builder()
                .setBootstrapServers("127.0.0.1:1")
                .setTopics("in")
                .setValueOnlyDeserializer(new SimpleStringSchema())
                .build();
        InlineRetryJob.build(env, source, InlineRetryJob.sink("127.0.0.1:1", "out", "test"), "http://127.0.0.1:1",
                inline(8));
        // With pipeline.generic-types=false, building the graph fails if any type would need Kryo.
        StreamGraph graph = env.getStreamGraph();
        assertThat(graph.getStreamNodes()).allSatisfy(node -> assertThat(node.getTransformationUID())
                .as("uid of %s", node.getOperatorName()).isNotNull());
        assertThat(graph.getStreamNodes().stream().map(StreamNode::getTransformationUID))
                .contains(InlineRetryJob.SOURCE_UID, InlineRetryJob.CALLS_UID, InlineRetryJob.COMPLETED_UID)
                .anyMatch(uid -> uid.startsWith(InlineRetryJob.SINK_UID));
    }
}
