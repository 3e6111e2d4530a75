package io.stagewise.jobs;

import org.apache.flink.annotation.PublicEvolving;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.RetriableException;
import java.util.concurrent.locks.LockSupport;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.errors.UnsupportedVersionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The topic layout of docs/topics-and-headers.md and the checks run before a job starts: the broker
 * answers, the input topic exists, the output and DLQ topics exist (created when absent), and the
 * DLQ accepts any record the input accepts plus room for the Stagewise headers.
 */
@PublicEvolving
public final class Topics {
    /** Room the DLQ needs above the input's record size limit for the Stagewise headers. */
    public static final int HEADER_ROOM_BYTES = 64 * 1024;

    private static final long TIMEOUT_SECONDS = 10;
    private static final String TRANSACTION_MAX_TIMEOUT_MS = "transaction.max.timeout.ms";
    private static final Logger LOG = LoggerFactory.getLogger(Topics.class);

    private Topics() {}

    public static String dlq(String inputTopic) {
        return inputTopic + ".dlq";
    }

    /**
     * The smallest output {@code max.message.bytes} the pipeline starts with: below it even events
     * with a short payload would all be dead-lettered as too large for the output.
     */
    public static final int MIN_OUTPUT_MESSAGE_BYTES = 4 * 1024;

    /**
     * The checked topic layout of a pipeline: what its producers may send.
     *
     * @param dlqMaxMessageBytes the smallest {@code max.message.bytes} of the DLQ and retry topics
     * @param outputMaxMessageBytes the output topic's {@code max.message.bytes}: a completed event
     *     whose record is larger is dead-lettered (see {@link Endpoints#outputCheck})
     */
    public record Layout(int dlqMaxMessageBytes, int outputMaxMessageBytes) {}

    /** An admin client that gives up on an unreachable broker within seconds instead of hanging. */
    public static Admin admin(String bootstrapServers) {
        return admin(bootstrapServers, new Properties());
    }

    /**
     * As {@link #admin(String)}, with extra client properties ({@code --kafka-property}, SASL/SSL);
     * they are passed on, never logged.
     */
    public static Admin admin(String bootstrapServers, Properties clientProperties) {
        Properties props = new Properties();
        props.putAll(clientProperties);
        props.setProperty(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        props.putIfAbsent(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
        props.putIfAbsent(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "10000");
        props.putIfAbsent(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "1000");
        try {
            return Admin.create(props);
        } catch (KafkaException e) {
            // Kafka's messages name the property, never a password's value.
            throw new StagewiseException("cannot create a Kafka client for " + bootstrapServers + " with the given client "
                    + "properties (--kafka-property, --kafka-properties, stagewise.kafka.properties): " + rootMessage(e));
        }
    }

    /** Fails within about ten seconds, naming the address tried, when no broker answers. */
    public static void checkReachable(Admin admin, String bootstrapServers) {
        try {
            admin.describeCluster().nodes().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (TimeoutException | ExecutionException e) {
            throw new StagewiseException("cannot reach a Kafka broker at " + bootstrapServers + " within "
                    + TIMEOUT_SECONDS + " s (--bootstrap-servers): " + rootMessage(e));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StagewiseException("interrupted while contacting Kafka at " + bootstrapServers);
        }
    }

    /**
     * Checks and completes the layout for the pipeline {@code settings} describe: the broker answers,
     * the input must exist; the output, DLQ and retry topics are created with the input's partition
     * count (and {@link PipelineSettings#replicationFactor()}, or the broker's default) when absent;
     * an existing DLQ or retry topic whose {@code max.message.bytes} is too small is refused, and so
     * is an output topic below {@link #MIN_OUTPUT_MESSAGE_BYTES}.
     */
    public static Layout prepare(PipelineSettings settings) {
        String bootstrapServers = settings.bootstrapServers();
        String inputTopic = settings.inputTopic();
        Optional<Short> replication = settings.replicationFactor().map(Integer::shortValue);
        try (Admin admin = admin(bootstrapServers, settings.kafkaClientProperties())) {
            checkReachable(admin, bootstrapServers);
            TopicDescription input = describe(admin, inputTopic).orElseThrow(() -> new StagewiseException(
                    "input topic '" + inputTopic + "' does not exist on " + bootstrapServers
                            + "; create it, or name another with --input-topic"));
            int partitions = input.partitions().size();
            int inputMax = maxMessageBytes(admin, inputTopic);
            int dlqNeeds = inputMax + HEADER_ROOM_BYTES;
            Map<String, String> large = Map.of(TopicConfig.MAX_MESSAGE_BYTES_CONFIG, Integer.toString(dlqNeeds));
            create(admin, settings.outputTopic(), partitions, replication, Map.of());
            create(admin, settings.dlqTopic(), partitions, replication, large);
            for (String retryTopic : settings.retryTopics()) {
                create(admin, retryTopic, partitions, replication, large);
            }
            int dlqMax = Integer.MAX_VALUE;
            List<String> sized = new ArrayList<>(settings.retryTopics());
            sized.add(0, settings.dlqTopic());
            for (String topic : sized) {
                int max = maxMessageBytes(admin, topic);
                if (max < dlqNeeds) {
                    throw new StagewiseException("topic '" + topic + "' has max.message.bytes=" + max
                            + ", but a dead letter or retry record can be as large as the input's limit (" + inputMax
                            + ") plus " + HEADER_ROOM_BYTES + " bytes of headers; raise it to at least " + dlqNeeds
                            + " (kafka-configs --alter --entity-type topics --entity-name " + topic
                            + " --add-config max.message.bytes=" + dlqNeeds + ")");
                }
                dlqMax = Math.min(dlqMax, max);
            }
            int outputMax = maxMessageBytes(admin, settings.outputTopic());
            if (outputMax < MIN_OUTPUT_MESSAGE_BYTES) {
                throw new StagewiseException("output topic '" + settings.outputTopic() + "' has max.message.bytes="
                        + outputMax + ": nearly every completed event would be too large for it and dead-lettered; raise it "
                        + "to at least " + MIN_OUTPUT_MESSAGE_BYTES + ", better to the input's " + inputMax
                        + " (kafka-configs --alter --entity-type topics --entity-name " + settings.outputTopic()
                        + " --add-config max.message.bytes=" + inputMax + ")");
            }
            if (outputMax < inputMax) {
                LOG.warn("Output topic '{}' has max.message.bytes={}, below input topic '{}''s {}: a completed event whose "
                                + "output record exceeds it is dead-lettered (reason error, stage output); raise "
                                + "max.message.bytes of '{}' to keep such events in the output", settings.outputTopic(),
                        outputMax, inputTopic, inputMax, settings.outputTopic());
            }
            return new Layout(dlqMax, outputMax);
        }
    }

    /** Kafka's default {@code transaction.max.timeout.ms}, assumed when the brokers do not say theirs. */
    public static final Duration DEFAULT_TRANSACTION_MAX_TIMEOUT = Duration.ofMinutes(15);

    /**
     * The broker's {@code transaction.max.timeout.ms} (a transactional producer asking for more is
     * refused), read from one broker of the cluster; empty when the client may not read broker
     * configurations (managed Kafka often denies DESCRIBE_CONFIGS on the cluster).
     */
    public static Optional<Duration> transactionMaxTimeout(Admin admin, String bootstrapServers) {
        try {
            Collection<Node> nodes = admin.describeCluster().nodes().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            Node node = nodes.iterator().next();
            ConfigResource broker = new ConfigResource(ConfigResource.Type.BROKER, node.idString());
            Config config = admin.describeConfigs(List.of(broker)).all().get(TIMEOUT_SECONDS, TimeUnit.SECONDS).get(broker);
            ConfigEntry entry = config == null ? null : config.get(TRANSACTION_MAX_TIMEOUT_MS);
            return entry == null || entry.value() == null
                    ? Optional.empty()
                    : Optional.of(Duration.ofMillis(Long.parseLong(entry.value())));
        } catch (ExecutionException e) {
            if (e.getCause() instanceof AuthorizationException || e.getCause() instanceof UnsupportedVersionException) {
                return Optional.empty();
            }
            throw new StagewiseException("cannot read " + TRANSACTION_MAX_TIMEOUT_MS + " of the brokers at " + bootstrapServers
                    + ": " + rootMessage(e));
        } catch (TimeoutException e) {
            throw new StagewiseException("cannot read " + TRANSACTION_MAX_TIMEOUT_MS + " of the brokers at " + bootstrapServers
                    + ": " + rootMessage(e));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StagewiseException("interrupted while reading the broker configuration at " + bootstrapServers);
        }
    }

    /** Creates a topic unless it exists; returns once every partition's leader serves requests. */
    public static void create(Admin admin, String topic, int partitions, Map<String, String> configs) {
        create(admin, topic, partitions, Optional.empty(), configs);
    }

    /** As {@link #create(Admin, String, int, Map)} with a replication factor (empty: the broker's default). */
    public static void create(Admin admin, String topic, int partitions, Optional<Short> replicationFactor,
                              Map<String, String> configs) {
        try {
            admin.createTopics(List.of(new NewTopic(topic, Optional.of(partitions), replicationFactor).configs(configs)))
                    .all()
                    .get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            if (!(e.getCause() instanceof TopicExistsException)) {
                throw new StagewiseException("cannot create topic '" + topic + "': " + rootMessage(e));
            }
        } catch (TimeoutException e) {
            throw new StagewiseException("creating topic '" + topic + "' timed out after " + TIMEOUT_SECONDS + " s");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StagewiseException("interrupted while creating topic '" + topic + "'");
        }
        awaitServing(admin, topic);
    }

    /**
     * Right after creation a broker may still answer NOT_LEADER_OR_FOLLOWER or
     * UNKNOWN_TOPIC_OR_PARTITION, and an idempotent producer whose first batch meets that can get
     * stuck in OUT_OF_ORDER_SEQUENCE_NUMBER retries until its delivery timeout. ListOffsets goes to
     * each partition's leader, so its success means the topic serves.
     */
    private static void awaitServing(Admin admin, String topic) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(TIMEOUT_SECONDS);
        while (true) {
            try {
                Map<TopicPartition, OffsetSpec> partitions = new HashMap<>();
                for (TopicDescription description : admin.describeTopics(List.of(topic)).allTopicNames()
                        .get(TIMEOUT_SECONDS, TimeUnit.SECONDS).values()) {
                    description.partitions().forEach(p -> partitions.put(new TopicPartition(topic, p.partition()), OffsetSpec.latest()));
                }
                admin.listOffsets(partitions).all().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
                return;
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof RetriableException) || System.nanoTime() > deadline) {
                    throw new StagewiseException("topic '" + topic + "' has no serving leader within " + TIMEOUT_SECONDS
                            + " s: " + rootMessage(e));
                }
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(100)); // poll interval of a bounded wait
            } catch (TimeoutException e) {
                throw new StagewiseException("topic '" + topic + "' did not answer within " + TIMEOUT_SECONDS + " s");
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new StagewiseException("interrupted while waiting for topic '" + topic + "'");
            }
        }
    }

    public static Optional<TopicDescription> describe(Admin admin, String topic) {
        try {
            Map<String, TopicDescription> all = admin.describeTopics(List.of(topic)).allTopicNames()
                    .get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            return Optional.ofNullable(all.get(topic));
        } catch (ExecutionException e) {
            if (e.getCause() instanceof UnknownTopicOrPartitionException) {
                return Optional.empty();
            }
            throw new StagewiseException("cannot describe topic '" + topic + "': " + rootMessage(e));
        } catch (TimeoutException e) {
            throw new StagewiseException("describing topic '" + topic + "' timed out after " + TIMEOUT_SECONDS + " s");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StagewiseException("interrupted while describing topic '" + topic + "'");
        }
    }

    /** The topic's {@code max.message.bytes}, waiting a little for a topic created a moment ago. */
    public static int maxMessageBytes(Admin admin, String topic) {
        ConfigResource resource = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(TIMEOUT_SECONDS);
        while (true) {
            try {
                Map<ConfigResource, Config> configs = admin.describeConfigs(List.of(resource)).all()
                        .get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
                return Integer.parseInt(configs.get(resource).get(TopicConfig.MAX_MESSAGE_BYTES_CONFIG).value());
            } catch (ExecutionException e) {
                // A topic created a moment ago may not have reached the broker's metadata yet.
                if (!(e.getCause() instanceof UnknownTopicOrPartitionException) || System.nanoTime() > deadline) {
                    throw new StagewiseException("cannot read max.message.bytes of topic '" + topic + "': " + rootMessage(e));
                }
            } catch (TimeoutException e) {
                throw new StagewiseException("cannot read max.message.bytes of topic '" + topic + "': " + rootMessage(e));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new StagewiseException("interrupted while reading the config of topic '" + topic + "'");
            }
        }
    }

    /** Creates every topic with {@code partitions} partitions unless it exists (demo, tests, benchmark). */
    public static void createAll(String bootstrapServers, int partitions, Collection<String> topics) {
        try (Admin admin = admin(bootstrapServers)) {
            checkReachable(admin, bootstrapServers);
            for (String topic : topics) {
                create(admin, topic, partitions, Map.of());
            }
        }
    }

    static String rootMessage(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root.getClass().getSimpleName() + (root.getMessage() == null ? "" : ": " + root.getMessage());
    }
}
