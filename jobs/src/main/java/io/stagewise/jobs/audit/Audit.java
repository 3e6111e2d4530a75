package io.stagewise.jobs.audit;

import io.stagewise.jobs.payments.PaymentsLedger;
import io.stagewise.jobs.payments.ledger.LedgerAudit;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import io.stagewise.operators.event.Event;
import io.stagewise.operators.event.FailureReason;
import io.stagewise.operators.event.Origin;
import io.stagewise.operators.event.StagewiseHeaders;
import io.stagewise.operators.ingest.EventDeserializer;
import io.stagewise.operators.ingest.EventParser;
import io.stagewise.operators.stage.Progress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.Header;

/**
 * Checks the audit invariants of docs/audit.md that hold for the Kafka topics, reading the
 * input, output and DLQ topics {@code read_committed} from the beginning. The input topic is the
 * source of truth (every record is parsed as the pipeline would); a generator plan, when given, is
 * checked against it too, so a lost produce cannot hide.
 *
 * <ul>
 *   <li>(1) every distinct valid input id is in exactly one of: the output, the DLQ. A dead letter
 *       that was replayed (the input holds a record of the same id whose {@code stagewise.replay-of}
 *       names its DLQ coordinates) is resolved: the replay's outcome, in the output or as a new
 *       dead letter, is where the id is now. The DLQ topic is append-only, so the old record stays;
 *   <li>(2) given the ledger database: one ledger row per completed payment, and for every account
 *       {@code balances.balance = sum(ledger.amount)} = the sum generated for its completed payments;
 *   <li>(3) given the gateway's effective charges: one per completed payment and per dead letter
 *       whose progress includes {@code charge}, none for any other event;
 *   <li>(4) the output holds exactly one record per completed id, and nothing else;
 *   <li>(5) every DLQ record carries the headers of section 3 with its true origin coordinates
 *       (the input record there has the same bytes), and every malformed input record is in the
 *       DLQ exactly once with reason {@code malformed}, stage {@code ingest}.
 * </ul>
 */
public final class Audit {
    private static final Duration READ_TIMEOUT = Duration.ofMinutes(2);
    /** The stage whose effect invariant (3) counts. */
    public static final String CHARGE_STAGE = "charge";
    private static final int SHOWN = 5;

    private Audit() {}

    /** The topics to audit. */
    public record Topics(String bootstrapServers, String input, String output, String dlq) {}

    /**
     * What the producer sent, when the audit knows it (the demo and the tests do): the number of
     * records, the distinct valid ids, the malformed records, and, for a set of ids, the sum of
     * their amounts per account.
     */
    public record Expected(int records, Set<String> validIds, int malformed,
                           Function<Set<String>, Map<String, BigDecimal>> sums) {
        public Map<String, BigDecimal> sumsFor(Set<String> ids) {
            return sums.apply(ids);
        }
    }

    public static AuditReport run(Topics topics, int maxEventBytes, Optional<Expected> plan) {
        return run(topics, maxEventBytes, plan, Optional.empty());
    }

    /**
     * @param effectiveCharges when the workflow charges through the gateway: effective charges per
     *     payment id, as the gateway recorded them; adds invariant (3)
     */
    public static AuditReport run(Topics topics, int maxEventBytes, Optional<Expected> plan,
                                  Optional<Map<String, Integer>> effectiveCharges) {
        return run(topics, maxEventBytes, plan, effectiveCharges, Optional.empty());
    }

    /**
     * @param ledger when completed payments are applied to PostgreSQL: the ledger database; adds
     *     invariant (2) and checks (3) and (4) against ledger rows
     */
    public static AuditReport run(Topics topics, int maxEventBytes, Optional<Expected> plan,
                                  Optional<Map<String, Integer>> effectiveCharges,
                                  Optional<PaymentsLedger.Database> ledger) {
        List<ConsumerRecord<byte[], byte[]>> inputs = TopicReader.readAll(topics.bootstrapServers(), topics.input(), READ_TIMEOUT);
        List<ConsumerRecord<byte[], byte[]>> outputs = TopicReader.readAll(topics.bootstrapServers(), topics.output(), READ_TIMEOUT);
        List<ConsumerRecord<byte[], byte[]>> deadLetters = TopicReader.readAll(topics.bootstrapServers(), topics.dlq(), READ_TIMEOUT);
        AuditReport report = check(inputs, outputs, deadLetters, maxEventBytes, plan, effectiveCharges);
        ledger.ifPresent(database -> checkLedger(report, database, outputs, plan));
        return report;
    }

    /** (2) and the ledger sides of (3) and (4). */
    static void checkLedger(AuditReport report, PaymentsLedger.Database database,
                            List<ConsumerRecord<byte[], byte[]>> outputs, Optional<Expected> plan) {
        Set<String> ledgerIds = new HashSet<>();
        LedgerAudit.Result internal;
        try (Connection connection = DriverManager.getConnection(database.jdbcUrl(), database.user(), database.password());
                Statement statement = connection.createStatement();
                ResultSet rows = statement.executeQuery("SELECT payment_id FROM ledger")) {
            while (rows.next()) {
                ledgerIds.add(rows.getString(1));
            }
            Map<String, BigDecimal> expectedSums = plan.map(p -> p.sumsFor(ledgerIds)).orElse(null);
            internal = expectedSums == null
                    ? LedgerAudit.check(connection)
                    : LedgerAudit.check(connection, expectedSums, ledgerIds.size());
        } catch (SQLException e) {
            report.check("(2) ledger readable", false, "cannot read the ledger at " + database + ": " + e.getMessage());
            return;
        }
        report.count("ledgerRows", internal.ledgerRows());
        Set<String> outputIds = new HashSet<>();
        for (ConsumerRecord<byte[], byte[]> record : outputs) {
            outputIds.add(header(record, StagewiseHeaders.EVENT_ID).orElse(""));
        }
        List<String> notInLedger = outputIds.stream().filter(id -> !ledgerIds.contains(id)).sorted().collect(Collectors.toList());
        List<String> notInOutput = ledgerIds.stream().filter(id -> !outputIds.contains(id)).sorted().collect(Collectors.toList());
        report.check("(2) one ledger row per completed payment; balances = sum(ledger) = generated sums",
                internal.ok() && notInLedger.isEmpty(),
                internal.ledgerRows() + " rows, " + internal.accounts() + " accounts; completed but not in the ledger "
                        + notInLedger.size() + sample(notInLedger)
                        + (internal.ok() ? "" : "; " + String.join("; ", internal.problems().subList(0, Math.min(SHOWN, internal.problems().size())))));
        report.check("(4) the output holds one record per ledger row", notInOutput.isEmpty() && notInLedger.isEmpty()
                        && outputs.size() == ledgerIds.size(),
                outputs.size() + " output records, " + ledgerIds.size() + " ledger rows; in the ledger but not the output "
                        + notInOutput.size() + sample(notInOutput));
    }

    public static AuditReport check(List<ConsumerRecord<byte[], byte[]>> inputs,
                             List<ConsumerRecord<byte[], byte[]>> outputs,
                             List<ConsumerRecord<byte[], byte[]>> deadLetters,
                             int maxEventBytes,
                             Optional<Expected> plan,
                             Optional<Map<String, Integer>> effectiveCharges) {
        AuditReport report = new AuditReport();
        EventParser parser = new EventParser(maxEventBytes);

        Map<String, ConsumerRecord<byte[], byte[]>> inputByCoordinates = new HashMap<>();
        Set<String> validIds = new LinkedHashSet<>();
        Set<String> malformedCoordinates = new LinkedHashSet<>();
        // DLQ coordinates -> ids of the input records replayed from there (stagewise dlq replay).
        Map<String, Set<String>> replayedFrom = new HashMap<>();
        for (ConsumerRecord<byte[], byte[]> record : inputs) {
            Origin here = new Origin(record.topic(), record.partition(), record.offset(), record.timestamp());
            inputByCoordinates.put(here.coordinates(), record);
            Event event = parser.parse(record.key(), record.value(), here, EventDeserializer.stagewiseHeaders(record.headers()));
            if (event.isMalformed()) {
                malformedCoordinates.add(here.coordinates());
            } else {
                validIds.add(event.id);
                if (event.isReplay()) {
                    replayedFrom.computeIfAbsent(event.replayOf, c -> new HashSet<>()).add(event.id);
                }
            }
        }
        report.count("inputRecords", inputs.size());
        report.count("distinctValidIds", validIds.size());
        report.count("duplicatesInInput", inputs.size() - malformedCoordinates.size() - validIds.size());
        report.count("malformedInInput", malformedCoordinates.size());

        plan.ifPresent(p -> {
            report.check("input matches the generator", p.validIds().equals(validIds)
                            && p.malformed() == malformedCoordinates.size() && p.records() == inputs.size(),
                    "generated " + p.records() + " records, " + p.validIds().size() + " distinct ids, "
                            + p.malformed() + " malformed; the input topic holds " + inputs.size() + ", "
                            + validIds.size() + ", " + malformedCoordinates.size());
        });

        Map<String, Integer> outputCount = new HashMap<>();
        for (ConsumerRecord<byte[], byte[]> record : outputs) {
            outputCount.merge(header(record, StagewiseHeaders.EVENT_ID).orElse(""), 1, Integer::sum);
        }
        report.count("outputRecords", outputs.size());

        // (5) DLQ headers and origins.
        List<String> badHeaders = new ArrayList<>();
        List<String> badOrigins = new ArrayList<>();
        Map<String, Integer> malformedInDlq = new HashMap<>();
        Map<String, Integer> validInDlq = new HashMap<>();
        long resolvedByReplay = 0;
        Set<String> chargedDeadLetters = new HashSet<>();
        for (ConsumerRecord<byte[], byte[]> letter : deadLetters) {
            String where = letter.topic() + "/" + letter.partition() + "/" + letter.offset();
            List<String> missing = Arrays.stream(StagewiseHeaders.DEAD_LETTER_HEADERS)
                    .filter(name -> header(letter, name).isEmpty())
                    .collect(Collectors.toList());
            if (!missing.isEmpty()) {
                badHeaders.add(where + " lacks " + missing);
                continue;
            }
            String origin = header(letter, StagewiseHeaders.ORIGIN_TOPIC).get() + "/"
                    + header(letter, StagewiseHeaders.ORIGIN_PARTITION).get() + "/"
                    + header(letter, StagewiseHeaders.ORIGIN_OFFSET).get();
            ConsumerRecord<byte[], byte[]> source = inputByCoordinates.get(origin);
            if (source == null || !Arrays.equals(source.value(), letter.value())
                    || !Long.toString(source.timestamp()).equals(header(letter, StagewiseHeaders.ORIGIN_TIMESTAMP).get())) {
                badOrigins.add(where + " claims origin " + origin + (source == null ? " (no such input record)"
                        : " (bytes or timestamp differ)"));
                continue;
            }
            boolean malformed = FailureReason.MALFORMED.headerValue().equals(header(letter, StagewiseHeaders.FAILURE_REASON).get());
            if (malformed) {
                if (!malformedCoordinates.contains(origin)
                        || !StagewiseHeaders.INGEST_STAGE.equals(header(letter, StagewiseHeaders.FAILURE_STAGE).get())) {
                    badOrigins.add(where + " says malformed at stage "
                            + header(letter, StagewiseHeaders.FAILURE_STAGE).get() + " but " + origin + " parses");
                }
                malformedInDlq.merge(origin, 1, Integer::sum);
            } else {
                String id = header(letter, StagewiseHeaders.EVENT_ID).get();
                if (replayedFrom.getOrDefault(where, Set.of()).contains(id)) {
                    resolvedByReplay++;
                } else {
                    validInDlq.merge(id, 1, Integer::sum);
                }
                try {
                    if (Progress.parse(header(letter, StagewiseHeaders.PROGRESS).get()).isCompleted(CHARGE_STAGE)) {
                        chargedDeadLetters.add(id);
                    }
                } catch (IllegalArgumentException e) {
                    badHeaders.add(where + " has unreadable progress");
                }
            }
        }
        report.count("deadLetters", deadLetters.size());
        report.count("malformedDeadLetters", malformedInDlq.values().stream().mapToLong(Integer::longValue).sum());
        report.count("deadLettersResolvedByReplay", resolvedByReplay);

        // (1) every distinct valid id in exactly one place, once; a replayed dead letter no longer counts as a place.
        List<String> missing = new ArrayList<>();
        List<String> repeated = new ArrayList<>();
        long completed = 0;
        for (String id : validIds) {
            int places = outputCount.getOrDefault(id, 0) + validInDlq.getOrDefault(id, 0);
            if (places == 0) {
                missing.add(id);
            } else if (places > 1) {
                repeated.add(id + " x" + places);
            }
            if (outputCount.containsKey(id)) {
                completed++;
            }
        }
        report.count("completed", completed);
        report.check("(1) every distinct valid id in exactly one of output, DLQ", missing.isEmpty() && repeated.isEmpty(),
                validIds.size() + " ids; missing " + missing.size() + sample(missing)
                        + ", more than once " + repeated.size() + sample(repeated));

        // (3) one effective charge per completed payment and per dead letter past charge; none otherwise.
        effectiveCharges.ifPresent(charges -> {
            List<String> wrong = new ArrayList<>();
            long charged = 0;
            for (String id : validIds) {
                int expected = outputCount.containsKey(id) || chargedDeadLetters.contains(id) ? 1 : 0;
                int actual = charges.getOrDefault(id, 0);
                charged += actual;
                if (actual != expected) {
                    wrong.add(id + " charged " + actual + "x, expected " + expected);
                }
            }
            Set<String> strangers = new HashSet<>(charges.keySet());
            strangers.removeAll(validIds);
            report.count("effectiveCharges", charged);
            report.check("(3) one effective charge per completed payment (and per dead letter past charge), none else",
                    wrong.isEmpty() && strangers.isEmpty(),
                    charged + " charges; wrong " + wrong.size() + sample(wrong) + ", for unknown ids "
                            + strangers.size() + sample(new ArrayList<>(strangers)));
        });

        // (4) nothing in the output but completed input ids, once each.
        Set<String> unexpected = new HashSet<>(outputCount.keySet());
        unexpected.removeAll(validIds);
        List<String> duplicated = outputCount.entrySet().stream().filter(e -> e.getValue() > 1)
                .map(e -> e.getKey() + " x" + e.getValue()).collect(Collectors.toList());
        report.check("(4) output holds one record per completed id, read committed",
                unexpected.isEmpty() && duplicated.isEmpty(),
                outputs.size() + " records; duplicated " + duplicated.size() + sample(duplicated)
                        + ", not from the input " + unexpected.size() + sample(new ArrayList<>(unexpected)));

        // (5) DLQ metadata, and every malformed record dead-lettered once.
        List<String> malformedMissing = malformedCoordinates.stream()
                .filter(c -> !malformedInDlq.containsKey(c)).collect(Collectors.toList());
        List<String> malformedRepeated = malformedInDlq.entrySet().stream().filter(e -> e.getValue() > 1)
                .map(e -> e.getKey() + " x" + e.getValue()).collect(Collectors.toList());
        report.check("(5) DLQ records carry every header and their true origin", badHeaders.isEmpty() && badOrigins.isEmpty(),
                deadLetters.size() + " records; bad headers " + badHeaders.size() + sample(badHeaders)
                        + ", bad origins " + badOrigins.size() + sample(badOrigins));
        report.check("(5) every malformed record dead-lettered exactly once",
                malformedMissing.isEmpty() && malformedRepeated.isEmpty(),
                malformedCoordinates.size() + " malformed; missing " + malformedMissing.size() + sample(malformedMissing)
                        + ", more than once " + malformedRepeated.size() + sample(malformedRepeated));
        return report;
    }

    static Optional<String> header(ConsumerRecord<byte[], byte[]> record, String name) {
        Header header = record.headers().lastHeader(name);
        return header == null || header.value() == null
                ? Optional.empty()
                : Optional.of(new String(header.value(), StandardCharsets.UTF_8));
    }

    private static String sample(List<String> items) {
        if (items.isEmpty()) {
            return "";
        }
        return " " + items.stream().limit(SHOWN).collect(Collectors.joining(", ", "[", items.size() > SHOWN ? ", ...]" : "]"));
    }
}
