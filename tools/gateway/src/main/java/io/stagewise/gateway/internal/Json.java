package io.stagewise.gateway.internal;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Map;

/** The gateway's JSON: compact UTF-8, fields in insertion order, so bodies are reproducible. */
public final class Json {
    public static final ObjectMapper MAPPER = new ObjectMapper();

    private Json() {}

    public static ObjectNode object() {
        return MAPPER.createObjectNode();
    }

    public static byte[] bytes(Object value) {
        try {
            return MAPPER.writeValueAsBytes(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write JSON for " + value.getClass().getName(), e);
        }
    }

    /** {@code {"error":{"type":..,"message":..}}}, plus any extra string fields given. */
    public static byte[] error(String type, String message, Map<String, String> extra) {
        ObjectNode error = object().put("type", type).put("message", message);
        extra.forEach(error::put);
        ObjectNode body = object();
        body.set("error", error);
        return bytes(body);
    }

    public static byte[] error(String type, String message) {
        return error(type, message, Map.of());
    }
}
