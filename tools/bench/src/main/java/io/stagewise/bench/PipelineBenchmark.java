package io.stagewise.bench;

import io.stagewise.jobs.FlinkSettings;
import io.stagewise.jobs.Endpoints;
import io.stagewise.jobs.PipelineJob;
import io.stagewise.jobs.PipelineSettings;
import io.stagewise.jobs.StagewiseOptions;
import io.stagewise.jobs.Topics;
import io.stagewise.jobs.local.LocalFlink;
import io.stagewise.operators.stage.StageSettings;
import io.stagewise.operators.stage.Workflow;
import io.stagewise.sinks.kafka.ExactlyOnceKafkaSinks;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.CoreOptions;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.flink.connector.kafka.source.KafkaSource;
import org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer;
import org.apache.flink.connector.kafka.source.reader.deserializer.KafkaRecordDeserializationSchema;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Throughput of the pipeline against a bare exactly-once Flink job on the same broker and the same
 * input, in the same process: both read the input topic to its end (bounded) and commit their
 * output in Kafka transactions; the time of a run is from submission to the job's end. Also runs
 * the pipeline with any workflow and in-flight limit ({@link StageBenchmark}), and builds jobs for
 * benchmarks that start them and watch their output ({@link IsolationBenchmark}).
 */
public final class PipelineBenchmark {
    private final String bootstrap;
    private final String input;
    private final int parallelism;
    private final Duration checkpointInterval;
    private final Path checkpointRoot;
    private int run;

    public PipelineBenchmark(String bootstrap, String input, int parallelism, Duration checkpointInterval, Path checkpointRoot) {
        this.bootstrap = bootstrap;
        this.input = input;
        this.parallelism = parallelism;
        this.checkpointInterval = checkpointInterval;
        this.checkpointRoot = checkpointRoot;
    }

    /** Seconds for the bare job: KafkaSource -> KafkaSink EXACTLY_ONCE, bytes passed through. */
    public double bare() throws Exception {
        String name = nextName("bare");
        String output = name + ".out";
        Topics.createAll(bootstrap, parallelism, List.of(output));
        StreamExecutionEnvironment env = environment(name, parallelism);
        KafkaSource<byte[]> source = KafkaSource.<byte[]>builder()
                .setBootstrapServers(bootstrap)
                .setTopics(input)
                .setGroupId(name)
                .setStartingOffsets(OffsetsInitializer.earliest())
                .setBounded(OffsetsInitializer.latest())
                .setDeserializer(KafkaRecordDeserializationSchema.valueOnly(ByteArrayDeserializer.class))
                .setProperty("isolation.level", "read_committed")
                .build();
        KafkaRecordSerializationSchema<byte[]> serializer = KafkaRecordSerializationSchema.<byte[]>builder()
                .setTopic(output)
                .setValueSerializationSchema(new RawBytes())
                .build();
        env.fromSource(source, WatermarkStrategy.noWatermarks(), "Kafka source").uid("bare-source")
                .returns(PrimitiveArrayTypeInfo.BYTE_PRIMITIVE_ARRAY_TYPE_INFO)
                .sinkTo(ExactlyOnceKafkaSinks.create(bootstrap, name, serializer,
                        ExactlyOnceKafkaSinks.DEFAULT_TRANSACTION_TIMEOUT, new Properties()))
                .uid("bare-sink");
        return time(env, name);
    }

    /** Seconds for the Stagewise pipeline over the same input, without stages ({@code dedup-only}). */
    public double pipeline() throws Exception {
        return pipeline(input, Workflow.named("dedup-only").build(), parallelism, StageSettings.DEFAULT_MAX_IN_FLIGHT).seconds();
    }

    /** One finished pipeline run: its wall-clock time and the topic it wrote to. */
    public record Run(String name, double seconds, String outputTopic) {}

    /** A job built on its own environment and not started yet, with the topic it writes its output to. */
    public record Job(String name, StreamExecutionEnvironment env, String outputTopic) {}

    /**
     * Runs the Stagewise pipeline with {@code workflow} over {@code inputTopic} (read to its end,
     * then the job finishes) and times it, from submission to the job's end.
     *
     * @param maxInFlight {@link StagewiseOptions#MAX_IN_FLIGHT}: remote calls in flight per remote stage per subtask
     */
    public Run pipeline(String inputTopic, Workflow workflow, int jobParallelism, int maxInFlight) throws Exception {
        return pipeline(inputTopic, workflow, jobParallelism, maxInFlight, StagewiseOptions.CONCURRENCY.defaultValue());
    }

    /**
     * The same with the in-flight limit {@code concurrency}: fixed at {@code maxInFlight}, or adaptive
     * up to it ({@link StagewiseOptions#CONCURRENCY}).
     */
    public Run pipeline(String inputTopic, Workflow workflow, int jobParallelism, int maxInFlight,
                        StagewiseOptions.Concurrency concurrency) throws Exception {
        Configuration options = new Configuration();
        options.set(StagewiseOptions.BOUNDED, true);
        options.set(StagewiseOptions.MAX_IN_FLIGHT, maxInFlight);
        options.set(StagewiseOptions.CONCURRENCY, concurrency);
        Job job = pipelineJob(inputTopic, workflow, jobParallelism, options);
        return new Run(job.name(), time(job.env(), job.name()), job.outputTopic());
    }

    /**
     * Builds, without starting it, the Stagewise pipeline with {@code workflow} over {@code inputTopic}
     * into a fresh output topic, creating its topics (output, DLQ, retry ladder) first.
     *
     * @param options {@link StagewiseOptions} on top of the run's own (broker, topics, group id,
     *     transactional ids), e.g. {@link StagewiseOptions#BOUNDED}, {@link StagewiseOptions#MAX_IN_FLIGHT}
     *     or the retry ladder
     */
    public Job pipelineJob(String inputTopic, Workflow workflow, int jobParallelism, Configuration options) {
        return pipelineJob(nextName("pipeline"), inputTopic, workflow, jobParallelism, options);
    }

    /**
     * The same with a given job {@code name}, also its group id, transactional id prefix and the stem of
     * its output topic {@code <name>.out}: for a benchmark that runs each job in a JVM of its own.
     */
    public Job pipelineJob(String name, String inputTopic, Workflow workflow, int jobParallelism, Configuration options) {
        return pipelineJob(name, inputTopic, workflow, jobParallelism, options, 0);
    }

    /**
     * The same, on a mini cluster that serves Flink's REST API and dashboard on {@code restPort}
     * (0: none), so a benchmark can read the job's metrics ({@code FlinkRest}).
     */
    public Job pipelineJob(String name, String inputTopic, Workflow workflow, int jobParallelism, Configuration options,
                           int restPort) {
        String output = name + ".out";
        Configuration conf = FlinkSettings.defaults(checkpointInterval, checkpointRoot.resolve(name));
        conf.addAll(options);
        // env.configure(conf) below applies parallelism.default: FlinkSettings' local 2 would override jobParallelism.
        conf.set(CoreOptions.DEFAULT_PARALLELISM, jobParallelism);
        conf.set(StagewiseOptions.BOOTSTRAP_SERVERS, bootstrap);
        conf.set(StagewiseOptions.INPUT_TOPIC, inputTopic);
        conf.set(StagewiseOptions.OUTPUT_TOPIC, output);
        conf.set(StagewiseOptions.GROUP_ID, name);
        conf.set(StagewiseOptions.TRANSACTIONAL_ID_PREFIX, name);
        PipelineSettings settings = PipelineSettings.from(conf);
        Topics.Layout layout = PipelineJob.prepareTopics(settings);
        StreamExecutionEnvironment env = restPort > 0 ? LocalFlink.withDashboard(
                FlinkSettings.defaults(checkpointInterval, checkpointRoot.resolve(name)), restPort)
                : environment(name, jobParallelism);
        env.setParallelism(jobParallelism);
        env.configure(conf);
        PipelineJob.assemble(env, settings, Endpoints.production(settings, layout, workflow));
        return new Job(name, env, output);
    }

    /** A job name unique in this benchmark, {@code bench-<kind>-<n>}; also its group and transactional id prefix. */
    String nextName(String kind) {
        return "bench-" + kind + "-" + (++run);
    }

    /** A local environment with the Stagewise Flink settings and its own checkpoint directory. */
    StreamExecutionEnvironment environment(String name, int jobParallelism) {
        Configuration conf = FlinkSettings.defaults(checkpointInterval, checkpointRoot.resolve(name));
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(conf);
        env.setParallelism(jobParallelism);
        return env;
    }

    private static double time(StreamExecutionEnvironment env, String name) throws Exception {
        long start = System.nanoTime();
        env.execute(name);
        return (System.nanoTime() - start) / 1e9;
    }

    /** Writes the record value as it was read; a class, since Flink cannot infer a lambda's types here. */
    private static final class RawBytes implements SerializationSchema<byte[]> {
        private static final long serialVersionUID = 1L;

        @Override
        public byte[] serialize(byte[] element) {
            return element;
        }
    }
}
