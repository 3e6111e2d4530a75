package io.stagewise.jobs.reconcile;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.stagewise.jobs.audit.Classification.IdClass;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a reconciliation found: ids per class, up to {@code examples} examples per class with their
 * evidence, accounts whose balance differs from their ledger sum, target records of ids the input
 * never held, the watermark, and what a repair wrote. Rendered as text, JSON and a self-contained
 * HTML page.
 */
public final class ReconcileReport {
    private final String runId;
    private final Watermark watermark;
    private final int examples;
    private final Map<IdClass, Long> counts = new EnumMap<>(IdClass.class);
    private final Map<IdClass, List<Finding>> shown = new EnumMap<>(IdClass.class);
    private final List<Finding> balances = new ArrayList<>();
    private long balanceMismatches;
    private final List<Finding> strays = new ArrayList<>();
    private long strayCount;
    private Repairer.Result repair;
    private final Map<String, Long> read = new LinkedHashMap<>();
    private List<ReconcileState.RunPoint> history = List.of();

    public ReconcileReport(String runId, Watermark watermark, int examples) {
        this.runId = runId;
        this.watermark = watermark;
        this.examples = examples;
        for (IdClass idClass : IdClass.values()) {
            counts.put(idClass, 0L);
            shown.put(idClass, new ArrayList<>());
        }
    }

    /** Takes one finding of the job; keeps at most {@code examples} of each kind. */
    void add(Finding finding) {
        switch (finding.kind) {
            case COUNT:
                counts.merge(finding.idClass, finding.count, Long::sum);
                break;
            case ID:
                List<Finding> list = shown.get(finding.idClass);
                if (list.size() < examples) {
                    list.add(finding);
                }
                break;
            case BALANCE:
                balanceMismatches++;
                if (balances.size() < examples) {
                    balances.add(finding);
                }
                break;
            case CARRY:
                break; // periodic mode's bookkeeping (Reconciliation), not a result
            case STRAY:
                strayCount++;
                if (strays.size() < examples) {
                    strays.add(finding);
                }
                break;
            default:
                throw new IllegalStateException("unknown finding kind " + finding.kind);
        }
    }

    void repaired(Repairer.Result result) {
        this.repair = result;
    }

    public String runId() {
        return runId;
    }

    /** The watermark's time, epoch ms. */
    public long at() {
        return watermark.at();
    }

    void read(String source, long records) {
        read.put(source, records);
    }

    /** Records read per source ({@code input}, {@code output}, {@code dlq}: valid records; {@code ledger} rows, {@code charges} rows, {@code carried} ids). */
    public Map<String, Long> readCounts() {
        return Map.copyOf(read);
    }

    /** Periodic mode: the last runs, this one included, oldest first (the HTML chart). */
    void history(List<ReconcileState.RunPoint> runs) {
        this.history = List.copyOf(runs);
    }

    public List<ReconcileState.RunPoint> history() {
        return history;
    }

    public long count(IdClass idClass) {
        return counts.get(idClass);
    }

    public List<Finding> examples(IdClass idClass) {
        return List.copyOf(shown.get(idClass));
    }

    public long balanceMismatches() {
        return balanceMismatches;
    }

    public long strays() {
        return strayCount;
    }

    public List<Finding> strayExamples() {
        return List.copyOf(strays);
    }

    public Repairer.Result repair() {
        return repair;
    }

    public long discrepancies() {
        long total = balanceMismatches + strayCount;
        for (IdClass idClass : IdClass.values()) {
            if (idClass.isDiscrepancy()) {
                total += counts.get(idClass);
            }
        }
        return total;
    }

    /** 0 clean (in-flight ids included), 1 discrepancies found. */
    public int exitCode() {
        return discrepancies() == 0 ? 0 : 1;
    }

    public String render() {
        StringBuilder out = new StringBuilder();
        out.append("Reconciliation ").append(runId).append(" at ").append(Instant.ofEpochMilli(watermark.at()))
                .append(", read up to end offsets ").append(watermark.endOffsets()).append('\n');
        if (watermark.windowed()) {
            out.append("  periodic: topics read from the last run's end offsets ").append(watermark.start()).append('\n');
        }
        if (!read.isEmpty()) {
            out.append("  records read: ").append(read).append('\n');
        }
        for (IdClass idClass : IdClass.values()) {
            out.append(String.format("  %-22s %,12d%n", idClass.label(), counts.get(idClass)));
        }
        out.append(String.format("  %-22s %,12d%n", "balance mismatches", balanceMismatches));
        out.append(String.format("  %-22s %,12d%n", "not from the input", strayCount));
        for (IdClass idClass : IdClass.values()) {
            if (idClass != IdClass.COMPLETED && idClass != IdClass.DEAD_LETTERED && !shown.get(idClass).isEmpty()) {
                out.append(idClass.label()).append(" (").append(counts.get(idClass)).append("), for example:\n");
                shown.get(idClass).forEach(f -> out.append("    ").append(f.id).append(": ").append(f.evidence).append('\n'));
            }
        }
        if (!balances.isEmpty()) {
            out.append("balance mismatches (").append(balanceMismatches).append("), for example:\n");
            balances.forEach(f -> out.append("    ").append(f).append('\n'));
        }
        if (!strays.isEmpty()) {
            out.append("not from the input (").append(strayCount).append("), for example:\n");
            strays.forEach(f -> out.append("    ").append(f.id).append(": ").append(f.evidence).append('\n'));
        }
        if (repair != null) {
            out.append(repair.dryRun() ? "Repair (dry run): would re-inject " : "Repair: re-injected ")
                    .append(repair.written()).append(" record(s) into the input, ").append(repair.transactions())
                    .append(" transaction(s); ").append(repair.skipped()).append(" skipped (repaired earlier, dead-lettered or no original record)\n");
            repair.lines().forEach(line -> out.append("    ").append(line).append('\n'));
        }
        out.append(discrepancies() == 0 ? "No discrepancies.\n" : discrepancies() + " discrepancies.\n");
        return out.toString();
    }

    public ObjectNode toJson(ObjectMapper json) {
        ObjectNode node = json.createObjectNode();
        node.put("runId", runId);
        node.put("clean", discrepancies() == 0);
        node.put("discrepancies", discrepancies());
        ObjectNode mark = node.putObject("watermark");
        mark.put("at", Instant.ofEpochMilli(watermark.at()).toString());
        ObjectNode offsets = mark.putObject("endOffsets");
        watermark.endOffsets().forEach((topic, parts) -> {
            ObjectNode t = offsets.putObject(topic);
            parts.forEach((p, o) -> t.put(Integer.toString(p), o));
        });
        if (watermark.windowed()) {
            ObjectNode starts = mark.putObject("startOffsets");
            watermark.start().forEach((topic, parts) -> {
                ObjectNode t = starts.putObject(topic);
                parts.forEach((p, o) -> t.put(Integer.toString(p), o));
            });
        }
        ObjectNode readNode = node.putObject("read");
        read.forEach(readNode::put);
        ObjectNode countNode = node.putObject("counts");
        counts.forEach((c, n) -> countNode.put(c.label(), n));
        countNode.put("balance-mismatches", balanceMismatches);
        countNode.put("not-from-input", strayCount);
        ObjectNode examplesNode = node.putObject("examples");
        shown.forEach((c, list) -> {
            if (!list.isEmpty()) {
                ArrayNode a = examplesNode.putArray(c.label());
                list.forEach(f -> a.addObject().put("id", f.id).put("evidence", f.evidence));
            }
        });
        if (!balances.isEmpty()) {
            ArrayNode a = examplesNode.putArray("balance-mismatches");
            balances.forEach(f -> a.addObject().put("account", f.account)
                    .put("balance", f.balance == null ? null : f.balance.toPlainString())
                    .put("ledgerSum", f.ledgerSum.toPlainString()));
        }
        if (!strays.isEmpty()) {
            ArrayNode a = examplesNode.putArray("not-from-input");
            strays.forEach(f -> a.addObject().put("id", f.id).put("evidence", f.evidence));
        }
        if (repair != null) {
            node.putObject("repair").put("dryRun", repair.dryRun()).put("written", repair.written())
                    .put("transactions", repair.transactions()).put("skipped", repair.skipped());
        }
        return node;
    }

    /** A page a person can open: the counts, then a table per class with its examples. */
    public String toHtml() {
        StringBuilder out = new StringBuilder();
        out.append("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Stagewise reconciliation ")
                .append(escape(runId)).append("</title>\n<style>body{font-family:sans-serif;margin:2em}"
                        + "table{border-collapse:collapse;margin-bottom:1.5em}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}"
                        + "th{background:#eee}.bad{color:#b00}.ok{color:#070}</style></head><body>\n");
        out.append("<h1>Reconciliation ").append(escape(runId)).append("</h1>\n<p>At ")
                .append(Instant.ofEpochMilli(watermark.at())).append("; read up to end offsets <code>")
                .append(escape(watermark.endOffsets().toString())).append("</code>.</p>\n");
        out.append("<p class=\"").append(discrepancies() == 0 ? "ok\">No discrepancies." : "bad\">" + discrepancies() + " discrepancies.")
                .append("</p>\n<table><tr><th>class</th><th>ids</th></tr>\n");
        for (IdClass idClass : IdClass.values()) {
            out.append("<tr><td").append(idClass.isDiscrepancy() && counts.get(idClass) > 0 ? " class=\"bad\"" : "").append('>')
                    .append(idClass.label()).append("</td><td>").append(counts.get(idClass)).append("</td></tr>\n");
        }
        out.append("<tr><td>balance mismatches</td><td>").append(balanceMismatches).append("</td></tr>\n");
        out.append("<tr><td>not from the input</td><td>").append(strayCount).append("</td></tr>\n</table>\n");
        if (!history.isEmpty()) {
            out.append("<h2>Discrepancies over time (last ").append(history.size()).append(" runs)</h2>\n");
            out.append(chart(history));
        }
        for (IdClass idClass : IdClass.values()) {
            List<Finding> list = shown.get(idClass);
            if (list.isEmpty()) {
                continue;
            }
            out.append("<h2>").append(idClass.label()).append(" (").append(counts.get(idClass)).append(")</h2>\n")
                    .append("<table><tr><th>event id</th><th>evidence</th></tr>\n");
            list.forEach(f -> out.append("<tr><td>").append(escape(f.id)).append("</td><td>").append(escape(f.evidence))
                    .append("</td></tr>\n"));
            out.append("</table>\n");
        }
        if (!balances.isEmpty()) {
            out.append("<h2>balance mismatches (").append(balanceMismatches).append(")</h2>\n")
                    .append("<table><tr><th>account</th><th>balance</th><th>sum(ledger.amount)</th></tr>\n");
            balances.forEach(f -> out.append("<tr><td>").append(escape(f.account)).append("</td><td>")
                    .append(f.balance == null ? "(no row)" : f.balance.toPlainString()).append("</td><td>")
                    .append(f.ledgerSum.toPlainString()).append("</td></tr>\n"));
            out.append("</table>\n");
        }
        if (!strays.isEmpty()) {
            out.append("<h2>not from the input (").append(strayCount).append(")</h2>\n")
                    .append("<table><tr><th>id</th><th>evidence</th></tr>\n");
            strays.forEach(f -> out.append("<tr><td>").append(escape(f.id)).append("</td><td>").append(escape(f.evidence))
                    .append("</td></tr>\n"));
            out.append("</table>\n");
        }
        out.append("</body></html>\n");
        return out.toString();
    }

    /** Chart series: every discrepancy class, balance mismatches and records not from the input. */
    private static final String[] COLORS = {"#d62728", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#1f77b4", "#2ca02c"};

    /**
     * Discrepancy counts per class over the runs, as inline SVG (no script, no external resource):
     * one line per class that was ever non-zero, a point per run with a tooltip ({@code <title>}).
     */
    static String chart(List<ReconcileState.RunPoint> runs) {
        Map<String, long[]> series = new LinkedHashMap<>();
        for (IdClass idClass : IdClass.values()) {
            if (idClass.isDiscrepancy()) {
                series.put(idClass.label(), runs.stream().mapToLong(r -> r.counts().getOrDefault(idClass, 0L)).toArray());
            }
        }
        series.put("balance mismatches", runs.stream().mapToLong(ReconcileState.RunPoint::balanceMismatches).toArray());
        series.put("not from the input", runs.stream().mapToLong(ReconcileState.RunPoint::strays).toArray());
        long max = 1;
        for (long[] values : series.values()) {
            for (long v : values) {
                max = Math.max(max, v);
            }
        }
        int width = 640;
        int height = 240;
        int left = 48;
        int bottom = 24;
        int top = 12;
        int plotWidth = width - left - 150;
        int plotHeight = height - bottom - top;
        StringBuilder svg = new StringBuilder();
        svg.append("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"history\" width=\"").append(width).append("\" height=\"")
                .append(height).append("\" role=\"img\" aria-label=\"discrepancies per class over the last runs\">\n");
        svg.append("<line x1=\"").append(left).append("\" y1=\"").append(top + plotHeight).append("\" x2=\"")
                .append(left + plotWidth).append("\" y2=\"").append(top + plotHeight).append("\" stroke=\"#888\"/>\n");
        svg.append("<line x1=\"").append(left).append("\" y1=\"").append(top).append("\" x2=\"").append(left)
                .append("\" y2=\"").append(top + plotHeight).append("\" stroke=\"#888\"/>\n");
        svg.append("<text x=\"").append(left - 6).append("\" y=\"").append(top + 10).append("\" text-anchor=\"end\" font-size=\"11\">")
                .append(max).append("</text>\n");
        svg.append("<text x=\"").append(left - 6).append("\" y=\"").append(top + plotHeight).append("\" text-anchor=\"end\" font-size=\"11\">0</text>\n");
        svg.append("<text x=\"").append(left).append("\" y=\"").append(height - 6).append("\" font-size=\"11\">")
                .append(escape(Instant.ofEpochMilli(runs.get(0).at()).toString())).append("</text>\n");
        svg.append("<text x=\"").append(left + plotWidth).append("\" y=\"").append(height - 6)
                .append("\" text-anchor=\"end\" font-size=\"11\">").append(escape(Instant.ofEpochMilli(runs.get(runs.size() - 1).at()).toString()))
                .append("</text>\n");
        int color = 0;
        int legend = 0;
        for (Map.Entry<String, long[]> e : series.entrySet()) {
            String stroke = COLORS[color++ % COLORS.length];
            long[] values = e.getValue();
            StringBuilder points = new StringBuilder();
            StringBuilder dots = new StringBuilder();
            for (int i = 0; i < values.length; i++) {
                long x = left + (runs.size() == 1 ? plotWidth / 2 : (long) i * plotWidth / (runs.size() - 1));
                long y = top + plotHeight - values[i] * plotHeight / max;
                points.append(i == 0 ? "" : " ").append(x).append(',').append(y);
                dots.append("<circle cx=\"").append(x).append("\" cy=\"").append(y).append("\" r=\"3\" fill=\"").append(stroke)
                        .append("\" data-class=\"").append(escape(e.getKey())).append("\" data-run=\"").append(escape(runs.get(i).runId()))
                        .append("\" data-count=\"").append(values[i]).append("\"><title>").append(escape(runs.get(i).runId())).append(' ')
                        .append(escape(e.getKey())).append(": ").append(values[i]).append("</title></circle>\n");
            }
            svg.append("<polyline fill=\"none\" stroke=\"").append(stroke).append("\" stroke-width=\"1.5\" points=\"")
                    .append(points).append("\"/>\n").append(dots);
            svg.append("<text x=\"").append(left + plotWidth + 12).append("\" y=\"").append(top + 12 + 14 * legend++)
                    .append("\" font-size=\"11\" fill=\"").append(stroke).append("\">").append(escape(e.getKey())).append("</text>\n");
        }
        return svg.append("</svg>\n").toString();
    }

    private static String escape(String text) {
        if (text == null) {
            return "";
        }
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
