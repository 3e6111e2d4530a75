package io.stagewise.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** The checked-in {@code flink-conf/} files and the suite's test-only overrides, read as YAML. */
final class FlinkConfigFiles {
    static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());

    private FlinkConfigFiles() {}

    /** The repository's {@code flink-conf/} folder (set by the module's surefire configuration). */
    static Path shippedDir() {
        return Path.of(System.getProperty("stagewise.flink.conf", "../../flink-conf"));
    }

    static JsonNode read(Path file) {
        try {
            return YAML.readTree(file.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + " as YAML", e);
        }
    }

    /** Nested YAML as Flink's flat keys ({@code execution.checkpointing.interval}), values as text. */
    static Map<String, String> flatten(JsonNode node) {
        Map<String, String> flat = new LinkedHashMap<>();
        flatten("", node, flat);
        return flat;
    }

    private static void flatten(String prefix, JsonNode node, Map<String, String> flat) {
        if (node == null || node.isNull() || node.isMissingNode()) {
            return;
        }
        if (node.isObject()) {
            for (Map.Entry<String, JsonNode> field : node.properties()) {
                flatten(prefix.isEmpty() ? field.getKey() : prefix + "." + field.getKey(), field.getValue(), flat);
            }
        } else {
            flat.put(prefix, node.isValueNode() ? node.asText() : node.toString());
        }
    }
}
