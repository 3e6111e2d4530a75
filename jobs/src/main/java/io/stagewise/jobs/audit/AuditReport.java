package io.stagewise.jobs.audit;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The outcome of an audit: named checks, each passed or failed with a detail, and counts. */
public final class AuditReport {
    /** One audit invariant, checked. */
    public record Check(String name, boolean passed, String detail) {}

    private final List<Check> checks = new ArrayList<>();
    private final Map<String, Long> counts = new LinkedHashMap<>();

    void check(String name, boolean passed, String detail) {
        checks.add(new Check(name, passed, detail));
    }

    void count(String name, long value) {
        counts.put(name, value);
    }

    public boolean passed() {
        return !checks.isEmpty() && checks.stream().allMatch(Check::passed);
    }

    public List<Check> checks() {
        return Collections.unmodifiableList(checks);
    }

    public Map<String, Long> counts() {
        return Collections.unmodifiableMap(counts);
    }

    public long count(String name) {
        return counts.getOrDefault(name, 0L);
    }

    /** Human-readable lines, one per check. */
    public String render() {
        StringBuilder out = new StringBuilder();
        for (Check check : checks) {
            out.append(check.passed() ? "  PASS  " : "  FAIL  ").append(check.name());
            if (!check.detail().isEmpty()) {
                out.append(": ").append(check.detail());
            }
            out.append('\n');
        }
        return out.toString();
    }

    public ObjectNode toJson(ObjectMapper json) {
        ObjectNode node = json.createObjectNode();
        node.put("passed", passed());
        ObjectNode countNode = node.putObject("counts");
        counts.forEach(countNode::put);
        ArrayNode checkNodes = node.putArray("checks");
        for (Check check : checks) {
            checkNodes.addObject().put("name", check.name()).put("passed", check.passed()).put("detail", check.detail());
        }
        return node;
    }
}
