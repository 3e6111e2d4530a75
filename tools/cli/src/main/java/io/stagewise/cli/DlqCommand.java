package io.stagewise.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.stagewise.jobs.StagewiseException;
import io.stagewise.jobs.Topics;
import io.stagewise.jobs.flags.KafkaFlags;
import io.stagewise.cli.dlq.DeadLetterFormat;
import io.stagewise.cli.dlq.DeadLetterReader;
import io.stagewise.cli.dlq.DeadLetterRecord;
import io.stagewise.cli.dlq.DeadLetterSummary;
import io.stagewise.cli.dlq.ReplayPlan;
import io.stagewise.cli.dlq.Replayer;
import io.stagewise.cli.dlq.Selection;
import io.stagewise.operators.event.StagewiseHeaders;
import io.stagewise.operators.stage.Progress;
import java.io.IOException;
import java.io.PrintWriter;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code stagewise dlq list | show | replay}: inspect the dead letters of {@code <topic>.dlq} and
 * replay them to {@code <topic>} (docs/topics-and-headers.md and docs/state-and-dedup.md and 8).
 *
 * <p>Reading is {@code read_committed}, from the beginning to the end offsets at start. Replay is
 * transactional per batch and safe to repeat (see {@link Replayer}). User errors (bad flags, empty
 * time range, unknown event id, unreachable broker, missing topic) print one line and exit 2.
 */
@Command(name = "dlq", mixinStandardHelpOptions = true,
        description = "Inspect and replay dead letters.",
        subcommands = {DlqCommand.ListCommand.class, DlqCommand.ShowCommand.class, DlqCommand.ReplayCommand.class})
public final class DlqCommand implements Runnable {
    private static final ObjectMapper JSON = new ObjectMapper();

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a subcommand is required: list, show or replay");
    }

    /** Flags every {@code dlq} subcommand takes. */
    public static final class CommonFlags {
        @Mixin
        KafkaFlags kafka = new KafkaFlags();

        @Option(names = "--topic", defaultValue = "payments",
                description = "The pipeline's input topic T; dead letters are read from T.dlq (default: ${DEFAULT-VALUE}).")
        String topic;

        @Option(names = "--json", description = "Print a machine-readable summary as the last line.")
        boolean json;

        String dlq() {
            return Topics.dlq(topic);
        }

        String bootstrapServers() {
            return kafka.bootstrapServers;
        }
    }

    /** The selection filters of {@code list} and {@code replay}. */
    public static final class SelectionFlags {
        @Option(names = "--ids", paramLabel = "ID[,ID...]", description = "Event ids (repeatable or comma list).")
        List<String> ids = new ArrayList<>();

        @Option(names = "--reason", paramLabel = "REASON[,REASON...]",
                description = "malformed, permanent, exhausted or error (repeatable or comma list).")
        List<String> reasons = new ArrayList<>();

        @Option(names = "--stage", paramLabel = "STAGE[,STAGE...]",
                description = "The failed stage, e.g. charge (ingest for malformed input; repeatable or comma list).")
        List<String> stages = new ArrayList<>();

        @Option(names = "--since", paramLabel = "TIME",
                description = "Failed at or after TIME: an ISO-8601 instant (2026-11-27T18:00:00Z) or a duration back from now (2h, 30min, 7d).")
        String since;

        @Option(names = "--until", paramLabel = "TIME", description = "Failed before TIME (same forms as --since).")
        String until;

        Selection selection(Instant now, boolean all) {
            return Selection.builder(now).ids(ids).reasons(reasons).stages(stages).since(since).until(until)
                    .all(all).build();
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true,
            description = "List dead letters, oldest failure first: event id, stage, reason, retries, age, origin, DLQ coordinates.")
    public static final class ListCommand implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Mixin
        CommonFlags common = new CommonFlags();

        @Mixin
        SelectionFlags filters = new SelectionFlags();

        @Option(names = "--limit", defaultValue = "100",
                description = "Rows to print at most, 0 for all (default: ${DEFAULT-VALUE}).")
        int limit;

        @Option(names = "--summary",
                description = "Instead of one row per dead letter, counts by failure hour (UTC) x reason x stage.")
        boolean summaryView;

        @Override
        public Integer call() {
            if (limit < 0) {
                throw new StagewiseException("--limit must be 0 (all) or positive, got " + limit);
            }
            PrintWriter out = spec.commandLine().getOut();
            Instant now = Instant.now();
            Selection selection = filters.selection(now, false);
            DeadLetterReader.Scan scan = DeadLetterReader.scan(common.bootstrapServers(), common.kafka.clientProperties(), common.dlq(), selection::matches);
            List<DeadLetterRecord> matched = byFailureTime(scan.kept());
            List<DeadLetterRecord> shown = summaryView ? List.of()
                    : limit == 0 ? matched : matched.subList(0, Math.min(limit, matched.size()));
            List<DeadLetterSummary.Row> cells = DeadLetterSummary.of(matched);
            if (matched.isEmpty()) {
                out.printf("No dead letters in %s match (%s; %d record(s) read).%n", common.dlq(), selection.describe(),
                        scan.read());
            } else if (summaryView) {
                DeadLetterSummary.table(cells).forEach(out::println);
                out.printf("%d of %d dead letter(s) in %s match (%s)%n", matched.size(), scan.read(), common.dlq(),
                        selection.describe());
            } else {
                DeadLetterFormat.table(shown, now).forEach(out::println);
                out.printf("%d of %d dead letter(s) in %s match (%s)%s%n", matched.size(), scan.read(), common.dlq(),
                        selection.describe(), shown.size() < matched.size()
                                ? "; showing the first " + shown.size() + " (--limit)" : "");
                out.printf("By reason: %s; by stage: %s%n", counts(matched, DeadLetterRecord::reasonText),
                        counts(matched, DeadLetterRecord::stage));
            }
            if (common.json) {
                ObjectNode summary = summary("dlq list", common);
                summary.put("read", scan.read()).put("matched", matched.size()).put("shown", shown.size());
                summary.set("byReason", JSON.valueToTree(countMap(matched, DeadLetterRecord::reasonText)));
                summary.set("byStage", JSON.valueToTree(countMap(matched, DeadLetterRecord::stage)));
                if (summaryView) {
                    summary.set("byHourReasonStage", DeadLetterSummary.toJson(cells, JSON));
                }
                ArrayNode letters = summary.putArray("deadLetters");
                shown.forEach(l -> letters.add(DeadLetterFormat.toJson(l).put("latest", scan.isLatest(l))));
                out.println(summary);
            }
            out.flush();
            return 0;
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true,
            description = "Show every dead letter of one event: all headers, the payload, the progress, DLQ coordinates."
                    + " Exit code 2 when the DLQ holds no dead letter with that id.")
    public static final class ShowCommand implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Mixin
        CommonFlags common = new CommonFlags();

        @Parameters(index = "0", paramLabel = "EVENT_ID", description = "The event id (stagewise.event-id).")
        String eventId;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            Instant now = Instant.now();
            DeadLetterReader.Scan scan = DeadLetterReader.scan(common.bootstrapServers(), common.kafka.clientProperties(), common.dlq(),
                    letter -> letter.eventId().equals(eventId));
            List<DeadLetterRecord> letters = byFailureTime(scan.kept());
            if (letters.isEmpty()) {
                throw new StagewiseException("no dead letter with event id '" + DeadLetterFormat.escape(eventId)
                        + "' in " + common.dlq() + " (" + scan.read() + " record(s) read); 'stagewise dlq list' shows the ids");
            }
            for (int i = 0; i < letters.size(); i++) {
                DeadLetterRecord letter = letters.get(i);
                if (i > 0) {
                    out.println();
                }
                out.printf("Dead letter %d of %d of event %s: %s%s%n", i + 1, letters.size(),
                        DeadLetterFormat.escape(eventId), letter.coordinates(),
                        scan.isLatest(letter) ? " (latest)" : " (superseded: the event failed again after a replay)");
                printLetter(out, letter, now);
            }
            if (common.json) {
                ObjectNode summary = summary("dlq show", common);
                summary.put("eventId", eventId).put("count", letters.size());
                ArrayNode array = summary.putArray("deadLetters");
                letters.forEach(l -> array.add(DeadLetterFormat.toFullJson(l, scan.isLatest(l))));
                out.println(summary);
            }
            out.flush();
            return 0;
        }

        private static void printLetter(PrintWriter out, DeadLetterRecord letter, Instant now) {
            out.println("  Headers:");
            int width = letter.headers().keySet().stream().mapToInt(String::length).max().orElse(0);
            for (Map.Entry<String, String> header : letter.headers().entrySet()) {
                String value = DeadLetterFormat.escape(header.getValue());
                if (header.getKey().equals(StagewiseHeaders.FAILURE_AT)) {
                    value += letter.failureAt().map(at -> " (" + Instant.ofEpochMilli(at) + ", "
                            + DeadLetterFormat.age(Optional.of(at), now) + " ago)").orElse("");
                } else if (header.getKey().equals(StagewiseHeaders.ORIGIN_TIMESTAMP)) {
                    value += number(header.getValue()).map(at -> " (" + Instant.ofEpochMilli(at) + ")").orElse("");
                }
                out.printf("    %-" + width + "s  %s%n", header.getKey(), value);
            }
            out.println("  Key: " + DeadLetterFormat.escape(letter.key()));
            byte[] value = letter.value();
            Optional<String> pretty = DeadLetterFormat.prettyJson(value);
            if (pretty.isPresent()) {
                out.println("  Payload (JSON, " + value.length + " bytes):");
                out.println(indent(pretty.get()));
            } else {
                out.println("  Payload (not JSON, " + (value == null ? 0 : value.length) + " bytes, escaped):");
                out.println("    " + DeadLetterFormat.escape(value));
            }
            String progressText = letter.header(StagewiseHeaders.PROGRESS).orElse(null);
            if (progressText == null) {
                out.println("  Progress: none (no " + StagewiseHeaders.PROGRESS + " header)");
            } else {
                Optional<String> prettyProgress = DeadLetterFormat.prettyJson(progressText);
                out.println("  Progress: " + describeProgress(progressText));
                out.println(indent(prettyProgress.orElse(DeadLetterFormat.escape(progressText))));
            }
        }

        private static String describeProgress(String json) {
            try {
                Progress progress = Progress.parse(json);
                List<String> done = new ArrayList<>();
                JSON.readTree(json).path("stages").fieldNames().forEachRemaining(done::add);
                String pending = progress.pendingStage();
                return "completed " + (done.isEmpty() ? "none" : String.join(", ", done))
                        + (pending == null ? "" : "; pending " + pending + " (attempts " + progress.attempts(pending)
                                + ", next idempotency key generation " + progress.keyGeneration(pending) + ")");
            } catch (IllegalArgumentException | IOException e) {
                return "unreadable (" + e.getMessage() + "); a replay of it is refused";
            }
        }

        private static Optional<Long> number(String text) {
            try {
                return Optional.of(Long.parseLong(text.trim()));
            } catch (NumberFormatException e) {
                return Optional.empty();
            }
        }
    }

    @Command(name = "replay", mixinStandardHelpOptions = true,
            description = "Write selected dead letters back to the input topic, with stagewise.replay-of, their origin and progress,"
                    + " in one Kafka transaction per batch. Safe to repeat: the pipeline drops events that completed since.")
    public static final class ReplayCommand implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Mixin
        CommonFlags common = new CommonFlags();

        @Mixin
        SelectionFlags filters = new SelectionFlags();

        @Option(names = "--all", description = "Select every dead letter (instead of filters).")
        boolean all;

        @Option(names = "--dry-run", description = "List what would be replayed; write nothing.")
        boolean dryRun;

        @Option(names = "--include-malformed",
                description = "Replay malformed dead letters too (they fail again unless the parser changed).")
        boolean includeMalformed;

        @Option(names = "--rate", defaultValue = "" + Replayer.DEFAULT_RATE,
                description = "Records per second at most, 0 for no cap (default: ${DEFAULT-VALUE}).")
        int rate;

        @Option(names = "--batch-size", defaultValue = "" + Replayer.DEFAULT_BATCH_SIZE,
                description = "Records per transaction, at most one second's worth of --rate (default: ${DEFAULT-VALUE}).")
        int batchSize;

        @Option(names = "--run-id", description = "Names this run in the producer's transactional.id"
                + " stagewise-replay-<T.dlq>-<run id> (default: UTC time and a random suffix).")
        String runId;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            Instant now = Instant.now();
            Selection selection = filters.selection(now, all);
            if (selection.isUnspecified()) {
                throw new StagewiseException("replay needs a selection: --ids, --since/--until, --reason, --stage,"
                        + " or --all for every dead letter (try --dry-run first)");
            }
            String run = runId != null ? runId : defaultRunId(now);
            Replayer.Settings settings;
            int inputMaxBytes;
            try (Admin admin = Topics.admin(common.bootstrapServers(), common.kafka.clientProperties())) {
                Topics.checkReachable(admin, common.bootstrapServers());
                Topics.describe(admin, common.topic).orElseThrow(() -> new StagewiseException("input topic '"
                        + common.topic + "' does not exist on " + common.bootstrapServers() + "; is --topic right?"));
                inputMaxBytes = Topics.maxMessageBytes(admin, common.topic);
            }
            settings = new Replayer.Settings(common.bootstrapServers(), common.kafka.clientPropertyMap(), common.topic,
                    Replayer.transactionalId(common.dlq(), run), rate, batchSize, inputMaxBytes + Topics.HEADER_ROOM_BYTES);

            DeadLetterReader.Scan scan = DeadLetterReader.scan(common.bootstrapServers(), common.kafka.clientProperties(), common.dlq(), selection::matches);
            ReplayPlan plan = ReplayPlan.of(scan, includeMalformed);
            out.printf("Selected %d of %d dead letter(s) in %s (%s): %d to replay, %d skipped.%n", scan.kept().size(),
                    scan.read(), common.dlq(), selection.describe(), plan.toReplay().size(), plan.skippedTotal());
            reportSkipped(out, plan);

            Replayer.Result result = new Replayer.Result(0, 0);
            if (dryRun) {
                if (!plan.toReplay().isEmpty()) {
                    out.printf("Dry run: would replay these %d to %s:%n", plan.toReplay().size(), common.topic);
                    DeadLetterFormat.table(plan.toReplay(), now).forEach(line -> out.println("  " + line));
                }
                out.println("Dry run: nothing was written.");
            } else if (plan.toReplay().isEmpty()) {
                out.println("Nothing to replay.");
            } else {
                int total = plan.toReplay().size();
                ProgressLine line = new ProgressLine(out);
                line.update("replaying " + ProgressLine.bar(0, total));
                result = Replayer.replay(settings, plan.toReplay(),
                        done -> line.update("replaying " + ProgressLine.bar(done, total)));
                line.finish("replaying " + ProgressLine.bar(result.replayed(), total));
                out.printf("Replayed %d dead letter(s) to %s in %d transaction(s) (transactional.id %s); skipped %d.%n",
                        result.replayed(), common.topic, result.transactions(), settings.transactionalId(),
                        plan.skippedTotal());
            }
            if (common.json) {
                ObjectNode summary = summary("dlq replay", common);
                summary.put("selection", selection.describe()).put("dryRun", dryRun)
                        .put("read", scan.read()).put("selected", scan.kept().size())
                        .put("toReplay", plan.toReplay().size()).put("replayed", result.replayed())
                        .put("transactions", result.transactions())
                        .put("transactionalId", dryRun ? null : settings.transactionalId());
                ObjectNode skipped = summary.putObject("skipped");
                skipped.put("total", plan.skippedTotal());
                for (ReplayPlan.Skip why : ReplayPlan.Skip.values()) {
                    skipped.put(why.name().toLowerCase(Locale.ROOT), plan.skipped(why).size());
                }
                ArrayNode coordinates = summary.putArray(dryRun ? "wouldReplay" : "replayedFrom");
                plan.toReplay().stream().limit(dryRun ? Long.MAX_VALUE : result.replayed())
                        .forEach(l -> coordinates.add(l.coordinates()));
                out.println(summary);
            }
            out.flush();
            return 0;
        }

        private void reportSkipped(PrintWriter out, ReplayPlan plan) {
            List<DeadLetterRecord> malformed = plan.skipped(ReplayPlan.Skip.MALFORMED);
            if (!malformed.isEmpty()) {
                out.printf("Skipping %d malformed dead letter(s): replayed as they are, they would only fail again at"
                        + " ingest. Send corrected events instead, or pass --include-malformed.%n", malformed.size());
            }
            List<DeadLetterRecord> superseded = plan.skipped(ReplayPlan.Skip.SUPERSEDED);
            if (!superseded.isEmpty()) {
                out.printf("Skipping %d dead letter(s) superseded by a later dead letter of the same event (it failed"
                        + " again after a replay; only the latest carries its current progress): %s%n", superseded.size(),
                        sample(superseded));
            }
            for (DeadLetterRecord letter : plan.skipped(ReplayPlan.Skip.INCOMPLETE)) {
                out.printf("Skipping %s (event '%s'): its headers cannot be replayed safely (%s); see stagewise dlq show%n",
                        letter.coordinates(), DeadLetterFormat.escape(letter.eventId()),
                        String.join(", ", letter.replayProblems()));
            }
        }

        private static String sample(List<DeadLetterRecord> letters) {
            String shown = letters.stream().limit(5).map(DeadLetterRecord::coordinates).collect(Collectors.joining(", "));
            return letters.size() > 5 ? shown + ", ..." : shown;
        }

        private static String defaultRunId(Instant now) {
            return DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(ZoneOffset.UTC).format(now) + "-"
                    + String.format("%04x", ThreadLocalRandom.current().nextInt(0x10000));
        }
    }

    private static List<DeadLetterRecord> byFailureTime(List<DeadLetterRecord> letters) {
        List<DeadLetterRecord> sorted = new ArrayList<>(letters);
        sorted.sort(Comparator.comparing((DeadLetterRecord l) -> l.failureAt().orElse(l.timestamp()))
                .thenComparing(DeadLetterRecord::partition).thenComparing(DeadLetterRecord::offset));
        return sorted;
    }

    private static Map<String, Long> countMap(List<DeadLetterRecord> letters, Function<DeadLetterRecord, String> by) {
        return letters.stream().collect(Collectors.groupingBy(l -> by.apply(l).isEmpty() ? "-" : by.apply(l),
                TreeMap::new, Collectors.counting()));
    }

    private static String counts(List<DeadLetterRecord> letters, Function<DeadLetterRecord, String> by) {
        return countMap(letters, by).entrySet().stream().map(e -> DeadLetterFormat.escape(e.getKey()) + " " + e.getValue())
                .collect(Collectors.joining(", "));
    }

    private static ObjectNode summary(String command, CommonFlags common) {
        ObjectNode node = JSON.createObjectNode();
        node.put("command", command).put("topic", common.topic).put("dlq", common.dlq());
        return node;
    }

    private static String indent(String text) {
        return text.lines().map(l -> "    " + l).collect(Collectors.joining(System.lineSeparator()));
    }
}
