package io.stagewise.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.stagewise.jobs.StagewiseException;
import io.stagewise.jobs.Topics;
import io.stagewise.jobs.flags.KafkaFlags;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import io.stagewise.testkit.PaymentGenerator;
import java.util.concurrent.Callable;
import org.apache.kafka.clients.admin.Admin;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code stagewise produce}: the payment event generator against any broker. */
@Command(name = "produce", mixinStandardHelpOptions = true,
        description = "Send generated payment events (with duplicates and malformed records) to a topic.")
public final class ProduceCommand implements Callable<Integer> {
    @Mixin
    KafkaFlags kafka = new KafkaFlags();

    @Option(names = "--topic", defaultValue = "payments", description = "Topic to write to (default: ${DEFAULT-VALUE}).")
    String topic;

    @Option(names = "--create-topic", paramLabel = "PARTITIONS", description = "Create the topic with this many partitions if it is missing.")
    Integer createPartitions;

    @Option(names = "--replication-factor", description = "Replication factor of a topic --create-topic creates (default: the broker's default.replication.factor).")
    Short replicationFactor;

    @Mixin
    GeneratorFlags generator = new GeneratorFlags();

    @Option(names = "--rate", defaultValue = "0", description = "Records per second, 0 = as fast as possible (default: ${DEFAULT-VALUE}).")
    int rate;

    @Option(names = "--json", description = "Print a machine-readable summary as the last line.")
    boolean json;

    @Override
    public Integer call() {
        PaymentGenerator.Plan plan = PaymentGenerator.plan(generator.settings());
        String bootstrapServers = kafka.bootstrapServers;
        Properties clientProperties = kafka.clientProperties();
        try (Admin admin = Topics.admin(bootstrapServers, clientProperties)) {
            Topics.checkReachable(admin, bootstrapServers);
            if (createPartitions != null) {
                Topics.create(admin, topic, createPartitions, Optional.ofNullable(replicationFactor), Map.of());
            }
            Topics.describe(admin, topic).orElseThrow(() -> new StagewiseException("topic '" + topic
                    + "' does not exist on " + bootstrapServers + "; create it or pass --create-topic PARTITIONS"));
        }
        ProgressLine line = new ProgressLine(System.out);
        int total = plan.records().size();
        PaymentGenerator.send(plan.records(), bootstrapServers, clientProperties, topic, rate,
                sent -> line.update(String.format("produced %s", ProgressLine.bar(sent, total))));
        line.finish(String.format("produced %s", ProgressLine.bar(total, total)));
        System.out.printf("Sent %d records to %s: %d distinct payments (expected once in the output), "
                + "%d duplicates (expected dropped), %d malformed (expected in %s)%n",
                total, topic, plan.validIds().size(), plan.duplicates(), plan.malformed(), Topics.dlq(topic));
        if (json) {
            var node = new ObjectMapper().createObjectNode();
            node.put("topic", topic).put("records", total).put("distinctIds", plan.validIds().size())
                    .put("duplicates", plan.duplicates()).put("malformed", plan.malformed())
                    .put("seed", generator.input.seed);
            System.out.println(node);
        }
        return 0;
    }

    /** The generator's flags, shared by {@code produce}, {@code demo} and {@code bench}. */
    public static final class GeneratorFlags {
        @Option(names = "--events", defaultValue = "10000", description = "Records to send, duplicates and malformed ones included (default: ${DEFAULT-VALUE}).")
        int events;

        @Option(names = "--duplicate-rate", defaultValue = "0.05", description = "Share of records that repeat an earlier event (default: ${DEFAULT-VALUE}).")
        double duplicateRate;

        @Option(names = "--malformed-rate", defaultValue = "0.001", description = "Share of malformed records (default: ${DEFAULT-VALUE}).")
        double malformedRate;

        @Mixin
        InputFlags input = new InputFlags();

        PaymentGenerator.Settings settings() {
            return input.settings(events, duplicateRate, malformedRate);
        }
    }
}
