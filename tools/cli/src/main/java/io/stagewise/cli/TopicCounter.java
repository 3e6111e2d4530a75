package io.stagewise.cli;

import io.stagewise.jobs.audit.TopicReader;
import io.stagewise.operators.event.StagewiseHeaders;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.header.Header;

/** Follows the output and DLQ topics as a read_committed consumer, counting what has committed. */
final class TopicCounter implements AutoCloseable {
    private final KafkaConsumer<byte[], byte[]> consumer;
    private final String outputTopic;
    private final Thread thread;
    private final Set<String> outputIds = new HashSet<>();
    private volatile long outputRecords;
    private volatile long outputDistinct;
    private volatile long deadLetters;
    private volatile boolean running = true;

    TopicCounter(String bootstrapServers, String outputTopic, String dlqTopic) {
        this.consumer = TopicReader.consumer(bootstrapServers);
        this.outputTopic = outputTopic;
        List<TopicPartition> partitions = new ArrayList<>();
        for (String topic : List.of(outputTopic, dlqTopic)) {
            consumer.partitionsFor(topic, Duration.ofSeconds(10))
                    .forEach(p -> partitions.add(new TopicPartition(topic, p.partition())));
        }
        consumer.assign(partitions);
        consumer.seekToBeginning(partitions);
        this.thread = new Thread(this::follow, "stagewise-topic-counter");
        thread.setDaemon(true);
        thread.start();
    }

    private void follow() {
        try {
            while (running) {
                for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(200))) {
                    if (record.topic().equals(outputTopic)) {
                        outputRecords++;
                        Header id = record.headers().lastHeader(StagewiseHeaders.EVENT_ID);
                        if (id != null && outputIds.add(new String(id.value(), StandardCharsets.UTF_8))) {
                            outputDistinct++;
                        }
                    } else {
                        deadLetters++;
                    }
                }
            }
        } catch (WakeupException e) {
            // close() asked us to stop.
        } finally {
            consumer.close();
        }
    }

    long outputRecords() {
        return outputRecords;
    }

    long outputDistinct() {
        return outputDistinct;
    }

    long deadLetters() {
        return deadLetters;
    }

    @Override
    public void close() throws InterruptedException {
        running = false;
        consumer.wakeup();
        thread.join(10_000);
    }
}
