package io.stagewise.jobs.flags;

import io.stagewise.jobs.StagewiseException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import org.apache.flink.annotation.PublicEvolving;
import picocli.CommandLine.Option;

/**
 * The flags every command that talks to Kafka shares: the brokers and extra client properties
 * (SASL/SSL, client rack, tuning) that reach every Kafka client the command makes. Values are
 * passed on, never printed or logged.
 */
@PublicEvolving
public final class KafkaFlags {
    @Option(names = "--bootstrap-servers", required = true, description = "Kafka bootstrap servers.")
    public String bootstrapServers;

    @Option(names = "--kafka-property", paramLabel = "KEY=VALUE",
            description = "Extra Kafka client property for every Kafka client (repeatable), e.g. "
                    + "security.protocol=SASL_SSL. Wins over --kafka-properties. Never logged.")
    public Map<String, String> properties = new LinkedHashMap<>();

    @Option(names = "--kafka-properties", paramLabel = "FILE",
            description = "A Java properties file of extra Kafka client properties for every Kafka client "
                    + "(secrets belong here, not in flags). Never logged.")
    public Path propertiesFile;

    /** The extra client properties: the file's, then each {@code --kafka-property} over them. */
    public Properties clientProperties() {
        Properties props = new Properties();
        if (propertiesFile != null) {
            try (InputStream in = Files.newInputStream(propertiesFile)) {
                props.load(in);
            } catch (NoSuchFileException e) {
                throw new StagewiseException("--kafka-properties " + propertiesFile + ": no such file");
            } catch (IOException e) {
                throw new StagewiseException("--kafka-properties " + propertiesFile + ": cannot read it ("
                        + e.getClass().getSimpleName() + ")");
            }
        }
        props.putAll(properties);
        return props;
    }

    /** {@link #clientProperties()} as a string map (for {@code stagewise.kafka.properties}). */
    public Map<String, String> clientPropertyMap() {
        Map<String, String> map = new LinkedHashMap<>();
        clientProperties().forEach((k, v) -> map.put(k.toString(), v.toString()));
        return map;
    }
}
