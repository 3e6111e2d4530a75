package io.stagewise.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import io.stagewise.jobs.payments.PaymentsWorkflow;
import io.stagewise.operators.ingest.MalformedSplit;
import io.stagewise.operators.latency.CommitLatency;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Collectors;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.PipelineOptions;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.graph.StreamGraph;
import org.apache.flink.streaming.api.graph.StreamNode;
import org.junit.jupiter.api.Test;

/** Savepoint compatibility and serializer hygiene of the pipeline's graph, checked without running it. */
class PipelineTopologyTest {
    private static StreamGraph graph(boolean withFailureInjector) {
        Configuration conf = FlinkSettings.defaults(Duration.ofSeconds(10), Path.of("target", "unused-checkpoints"));
        conf.set(StagewiseOptions.BOOTSTRAP_SERVERS, "127.0.0.1:1");
        conf.set(StagewiseOptions.GATEWAY_URL, "http://127.0.0.1:1");
        conf.set(StagewiseOptions.LEDGER_JDBC_URL, "jdbc:postgresql://127.0.0.1:1/x");
        conf.set(StagewiseOptions.LEDGER_TRANSACTION_PREFIX, "test-ledger");
        if (withFailureInjector) {
            conf.set(StagewiseOptions.INJECT_FAILURE_AFTER, 10L);
        }
        PipelineSettings settings = PipelineSettings.from(conf, "p");
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(conf);
        PipelineJob.assemble(env, settings, Endpoints.production(settings, new Topics.Layout(2_000_000, 1_048_576)));
        // With pipeline.generic-types=false, building the graph fails if any type would need Kryo.
        return env.getStreamGraph();
    }

    @Test
    void everyOperatorHasAStableUid() {
        for (boolean injector : List.of(false, true)) {
            StreamGraph graph = graph(injector);
            List<String> withoutUid = graph.getStreamNodes().stream()
                    .filter(node -> node.getTransformationUID() == null)
                    .map(StreamNode::getOperatorName)
                    .collect(Collectors.toList());
            assertThat(withoutUid).as("operators without uid()").isEmpty();
        }
    }

    @Test
    void uidsAreTheDocumentedConstants() {
        List<String> uids = graph(true).getStreamNodes().stream()
                .map(StreamNode::getTransformationUID)
                .collect(Collectors.toList());
        assertThat(uids).contains(PipelineJob.SOURCE_UID, PipelineJob.STAGES_UID, MalformedSplit.UID, FailureInjector.UID);
        assertThat(uids).anyMatch(uid -> uid.startsWith(PipelineJob.OUTPUT_SINK_UID));
        assertThat(uids).anyMatch(uid -> uid.startsWith(PipelineJob.DLQ_SINK_UID));
        assertThat(uids).contains(PipelineJob.LEDGER_ENTRY_UID);
        assertThat(uids).anyMatch(uid -> uid.startsWith(PipelineJob.LEDGER_SINK_UID));
        assertThat(uids).contains(CommitLatency.uid("output"),
                CommitLatency.uid("ledger"),
                CommitLatency.uid("dlq"));
    }

    @Test
    void theWorkflowAndLedgerComeFromTheSettings() {
        Configuration conf = new Configuration();
        conf.set(StagewiseOptions.GATEWAY_URL, "http://127.0.0.1:1");
        PipelineSettings settings = PipelineSettings.from(conf);
        Endpoints endpoints = Endpoints.production(settings, new Topics.Layout(2_000_000, 1_048_576));
        assertThat(endpoints.workflow().name()).isEqualTo(PaymentsWorkflow.NAME);
        assertThat(endpoints.ledger()).isEmpty();
    }

    @Test
    void genericTypesAreDisabledSoNoStateFallsBackToKryo() {
        Configuration conf = FlinkSettings.defaults(Duration.ofSeconds(1), Path.of("target", "x"));
        assertThat(conf.get(PipelineOptions.GENERIC_TYPES)).isFalse();
        assertThat(graph(false).getExecutionConfig().getSerializerConfig().hasGenericTypesDisabled()).isTrue();
    }
}
