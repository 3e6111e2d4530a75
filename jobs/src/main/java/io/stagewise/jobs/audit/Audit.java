package io.stagewise.jobs.audit;

import io.stagewise.jobs.payments.PaymentsLedger;
import io.stagewise.jobs.payments.ledger.LedgerAudit;
import java.math.BigDecimal;
import java.sql.Connection;
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
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
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
 *   <li>(5) every DLQ record carries the headers of docs/topics-and-headers.md with its true origin coordinates
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

    /**
     * The topics to audit.
     *
     * @param clientProperties extra Kafka client properties ({@code --kafka-property}: SASL/SSL) for
     *     the audit's consumers; never logged
     */
    public record Topics(String bootstrapServers, String input, String output, String dlq, Properties clientProperties) {
        public Topics {
            Properties copy = new Properties();
            copy.putAll(clientProperties);
            clientProperties = copy;
        }

        /** Without extra client properties. */
        public Topics(String bootstrapServers, String input, String output, String dlq) {
            this(bootstrapServers, input, output, dlq, new Properties());
        }

        @Override
        public String toString() {
            return "Topics{" + bootstrapServers + ", " + input + ", " + output + ", " + dlq + "}";
        }
    }

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
        List<ConsumerRecord<byte[], byte[]>> inputs = TopicReader.readAll(topics.bootstrapServers(), topics.clientProperties(),
                topics.input(), READ_TIMEOUT);
        List<ConsumerRecord<byte[], byte[]>> outputs = TopicReader.readAll(topics.bootstrapServers(), topics.clientProperties(),
                topics.output(), READ_TIMEOUT);
        List<ConsumerRecord<byte[], byte[]>> deadLetters = TopicReader.readAll(topics.bootstrapServers(), topics.clientProperties(),
                topics.dlq(), READ_TIMEOUT);
        AuditReport report = check(inputs, outputs, deadLetters, maxEventBytes, plan, effectiveCharges);
        ledger.ifPresent(database -> checkLedger(report, database, outputs, plan));
        return report;
    }

    /** Reads the ledger, then checks (2) and the ledger side of (4). */
    static void checkLedger(AuditReport report, PaymentsLedger.Database database,
                            List<ConsumerRecord<byte[], byte[]>> outputs, Optional<Expected> plan) {
        Set<String> ledgerIds = new HashSet<>();
        LedgerAudit.Result internal;
        try (Connection connection = database.connect("stagewise-audit");
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
        checkBalances(report, internal, notInLedger);
        checkOutputMatchesLedger(report, outputs.size(), ledgerIds.size(), notInLedger, notInOutput);
    }

    /** (2) one ledger row per completed payment; for every account balance = sum(ledger) = generated sum. */
    private static void checkBalances(AuditReport report, LedgerAudit.Result internal, List<String> notInLedger) {
        report.check("(2) one ledger row per completed payment; balances = sum(ledger) = generated sums",
                internal.ok() && notInLedger.isEmpty(),
                internal.ledgerRows() + " rows, " + internal.accounts() + " accounts; completed but not in the ledger "
                        + notInLedger.size() + sample(notInLedger)
                        + (internal.ok() ? "" : "; " + String.join("; ", internal.problems().subList(0, Math.min(SHOWN, internal.problems().size())))));
    }

    /** (4) the output holds one record per ledger row. */
    private static void checkOutputMatchesLedger(AuditReport report, int outputRecords, int ledgerRows,
                                                 List<String> notInLedger, List<String> notInOutput) {
        report.check("(4) the output holds one record per ledger row", notInOutput.isEmpty() && notInLedger.isEmpty()
                        && outputRecords == ledgerRows,
                outputRecords + " output records, " + ledgerRows + " ledger rows; in the ledger but not the output "
                        + notInOutput.size() + sample(notInOutput));
    }

    /**
     * Checks the invariants that the three topics and the charges decide, one method each, in the
     * order of docs/audit.md. The per-id rules (places, expected charges) are {@link Classification}'s.
     */
    public static AuditReport check(List<ConsumerRecord<byte[], byte[]>> inputs,
                             List<ConsumerRecord<byte[], byte[]>> outputs,
                             List<ConsumerRecord<byte[], byte[]>> deadLetters,
                             int maxEventBytes,
                             Optional<Expected> plan,
                             Optional<Map<String, Integer>> effectiveCharges) {
        AuditReport report = new AuditReport();
        InputScan input = scanInput(inputs, maxEventBytes, report);
        plan.ifPresent(p -> checkInputMatchesPlan(report, p, input, inputs.size()));
        Map<String, IdFacts> facts = new LinkedHashMap<>();
        for (String id : input.validIds()) {
            facts.put(id, new IdFacts(id));
        }
        for (ConsumerRecord<byte[], byte[]> record : outputs) {
            String id = header(record, StagewiseHeaders.EVENT_ID).orElse("");
            facts.computeIfAbsent(id, IdFacts::new).outputs++;
        }
        report.count("outputRecords", outputs.size());
        DeadLetterScan letters = scanDeadLetters(deadLetters, input, facts, report);
        checkEveryIdOnce(report, input, facts);
        effectiveCharges.ifPresent(charges -> checkCharges(report, input, facts, charges));
        checkOutput(report, input, facts, outputs.size());
        checkDeadLetterHeaders(report, letters, deadLetters.size());
        checkMalformedDeadLettered(report, input, letters);
        return report;
    }

    /**
     * The input as the pipeline parses it: valid ids, malformed input records counted per true
     * origin (a malformed dead letter replayed with {@code --include-malformed} comes back under its
     * first origin, so that origin then has two records and owes two dead letters), replays.
     */
    private record InputScan(Map<String, ConsumerRecord<byte[], byte[]>> byCoordinates, Set<String> validIds,
                             Map<String, Integer> malformedByOrigin, Map<String, Set<String>> replayedFrom) {
        Set<String> malformedCoordinates() {
            return malformedByOrigin.keySet();
        }

        int malformedRecords() {
            return malformedByOrigin.values().stream().mapToInt(Integer::intValue).sum();
        }
    }

    private static InputScan scanInput(List<ConsumerRecord<byte[], byte[]>> inputs, int maxEventBytes,
                                       AuditReport report) {
        EventParser parser = new EventParser(maxEventBytes);
        Map<String, ConsumerRecord<byte[], byte[]>> inputByCoordinates = new HashMap<>();
        Set<String> validIds = new LinkedHashSet<>();
        Map<String, Integer> malformedByOrigin = new LinkedHashMap<>();
        // DLQ coordinates -> ids of the input records replayed from there (stagewise dlq replay).
        Map<String, Set<String>> replayedFrom = new HashMap<>();
        for (ConsumerRecord<byte[], byte[]> record : inputs) {
            Origin here = new Origin(record.topic(), record.partition(), record.offset(), record.timestamp());
            inputByCoordinates.put(here.coordinates(), record);
            Event event = parser.parse(record.key(), record.value(), here, EventDeserializer.stagewiseHeaders(record.headers()));
            if (event.isMalformed()) {
                malformedByOrigin.merge(event.origin.coordinates(), 1, Integer::sum);
            } else {
                validIds.add(event.id);
                if (event.isReplay()) {
                    replayedFrom.computeIfAbsent(event.replayOf, c -> new HashSet<>()).add(event.id);
                }
            }
        }
        report.count("inputRecords", inputs.size());
        report.count("distinctValidIds", validIds.size());
        InputScan scan = new InputScan(inputByCoordinates, validIds, malformedByOrigin, replayedFrom);
        report.count("duplicatesInInput", inputs.size() - scan.malformedRecords() - validIds.size());
        report.count("malformedInInput", scan.malformedRecords());
        return scan;
    }

    private static void checkInputMatchesPlan(AuditReport report, Expected p, InputScan input, int records) {
        report.check("input matches the generator", p.validIds().equals(input.validIds())
                        && p.malformed() == input.malformedRecords() && p.records() == records,
                "generated " + p.records() + " records, " + p.validIds().size() + " distinct ids, "
                        + p.malformed() + " malformed; the input topic holds " + records + ", "
                        + input.validIds().size() + ", " + input.malformedRecords());
    }

    /** What the DLQ holds: header and origin problems, malformed dead letters per origin. */
    private record DeadLetterScan(List<String> badHeaders, List<String> badOrigins, Map<String, Integer> malformedInDlq) {}

    /** Reads every dead letter once: (5) headers and origins, and the ids' dead letters into {@code facts}. */
    private static DeadLetterScan scanDeadLetters(List<ConsumerRecord<byte[], byte[]>> deadLetters, InputScan input,
                                                  Map<String, IdFacts> facts, AuditReport report) {
        List<String> badHeaders = new ArrayList<>();
        List<String> badOrigins = new ArrayList<>();
        Map<String, Integer> malformedInDlq = new HashMap<>();
        long resolvedByReplay = 0;
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
            ConsumerRecord<byte[], byte[]> source = input.byCoordinates().get(origin);
            if (source == null || !Arrays.equals(source.value(), letter.value())
                    || !Long.toString(source.timestamp()).equals(header(letter, StagewiseHeaders.ORIGIN_TIMESTAMP).get())) {
                badOrigins.add(where + " claims origin " + origin + (source == null ? " (no such input record)"
                        : " (bytes or timestamp differ)"));
                continue;
            }
            boolean malformed = FailureReason.MALFORMED.headerValue().equals(header(letter, StagewiseHeaders.FAILURE_REASON).get());
            if (malformed) {
                if (!input.malformedCoordinates().contains(origin)
                        || !StagewiseHeaders.INGEST_STAGE.equals(header(letter, StagewiseHeaders.FAILURE_STAGE).get())) {
                    badOrigins.add(where + " says malformed at stage "
                            + header(letter, StagewiseHeaders.FAILURE_STAGE).get() + " but " + origin + " parses");
                }
                malformedInDlq.merge(origin, 1, Integer::sum);
            } else {
                String id = header(letter, StagewiseHeaders.EVENT_ID).get();
                IdFacts idFacts = facts.computeIfAbsent(id, IdFacts::new);
                if (input.replayedFrom().getOrDefault(where, Set.of()).contains(id)) {
                    resolvedByReplay++;
                } else {
                    idFacts.deadLetters++;
                }
                try {
                    if (Progress.parse(header(letter, StagewiseHeaders.PROGRESS).get()).isCompleted(CHARGE_STAGE)) {
                        idFacts.chargedDeadLetter = true;
                    }
                } catch (IllegalArgumentException e) {
                    badHeaders.add(where + " has unreadable progress");
                }
            }
        }
        report.count("deadLetters", deadLetters.size());
        report.count("malformedDeadLetters", malformedInDlq.values().stream().mapToLong(Integer::longValue).sum());
        report.count("deadLettersResolvedByReplay", resolvedByReplay);
        return new DeadLetterScan(badHeaders, badOrigins, malformedInDlq);
    }

    /** (1) every distinct valid id in exactly one place, once; a replayed dead letter no longer counts as a place. */
    private static void checkEveryIdOnce(AuditReport report, InputScan input, Map<String, IdFacts> facts) {
        List<String> missing = new ArrayList<>();
        List<String> repeated = new ArrayList<>();
        long completed = 0;
        for (String id : input.validIds()) {
            IdFacts idFacts = facts.get(id);
            int places = Classification.places(idFacts);
            if (places == 0) {
                missing.add(id);
            } else if (places > 1) {
                repeated.add(id + " x" + places);
            }
            if (idFacts.outputs > 0) {
                completed++;
            }
        }
        report.count("completed", completed);
        report.check("(1) every distinct valid id in exactly one of output, DLQ", missing.isEmpty() && repeated.isEmpty(),
                input.validIds().size() + " ids; missing " + missing.size() + sample(missing)
                        + ", more than once " + repeated.size() + sample(repeated));
    }

    /** (3) one effective charge per completed payment and per dead letter past charge; none otherwise. */
    private static void checkCharges(AuditReport report, InputScan input, Map<String, IdFacts> facts,
                                     Map<String, Integer> charges) {
        List<String> wrong = new ArrayList<>();
        long charged = 0;
        for (String id : input.validIds()) {
            IdFacts idFacts = facts.get(id);
            idFacts.charges = charges.getOrDefault(id, 0);
            int expected = Classification.expectedCharges(idFacts);
            charged += idFacts.charges;
            if (idFacts.charges != expected) {
                wrong.add(id + " charged " + idFacts.charges + "x, expected " + expected);
            }
        }
        Set<String> strangers = new HashSet<>(charges.keySet());
        strangers.removeAll(input.validIds());
        report.count("effectiveCharges", charged);
        report.check("(3) one effective charge per completed payment (and per dead letter past charge), none else",
                wrong.isEmpty() && strangers.isEmpty(),
                charged + " charges; wrong " + wrong.size() + sample(wrong) + ", for unknown ids "
                        + strangers.size() + sample(new ArrayList<>(strangers)));
    }

    /** (4) nothing in the output but completed input ids, once each. */
    private static void checkOutput(AuditReport report, InputScan input, Map<String, IdFacts> facts, int outputRecords) {
        List<String> unexpected = new ArrayList<>();
        List<String> duplicated = new ArrayList<>();
        for (IdFacts idFacts : facts.values()) {
            if (idFacts.outputs > 0 && !input.validIds().contains(idFacts.id)) {
                unexpected.add(idFacts.id);
            }
            if (idFacts.outputs > 1) {
                duplicated.add(idFacts.id + " x" + idFacts.outputs);
            }
        }
        report.check("(4) output holds one record per completed id, read committed",
                unexpected.isEmpty() && duplicated.isEmpty(),
                outputRecords + " records; duplicated " + duplicated.size() + sample(duplicated)
                        + ", not from the input " + unexpected.size() + sample(unexpected));
    }

    /** (5) DLQ metadata: every header of docs/topics-and-headers.md and the true origin. */
    private static void checkDeadLetterHeaders(AuditReport report, DeadLetterScan letters, int deadLetters) {
        report.check("(5) DLQ records carry every header and their true origin",
                letters.badHeaders().isEmpty() && letters.badOrigins().isEmpty(),
                deadLetters + " records; bad headers " + letters.badHeaders().size() + sample(letters.badHeaders())
                        + ", bad origins " + letters.badOrigins().size() + sample(letters.badOrigins()));
    }

    /**
     * (5) every malformed input record dead-lettered exactly once: per true origin, as many
     * malformed dead letters as malformed input records (the original and its replays).
     */
    private static void checkMalformedDeadLettered(AuditReport report, InputScan input, DeadLetterScan letters) {
        List<String> malformedMissing = input.malformedByOrigin().entrySet().stream()
                .filter(e -> letters.malformedInDlq().getOrDefault(e.getKey(), 0) < e.getValue())
                .map(Map.Entry::getKey).collect(Collectors.toList());
        List<String> malformedRepeated = letters.malformedInDlq().entrySet().stream()
                .filter(e -> e.getValue() > input.malformedByOrigin().getOrDefault(e.getKey(), 0))
                .map(e -> e.getKey() + " x" + e.getValue()).collect(Collectors.toList());
        report.check("(5) every malformed record dead-lettered exactly once",
                malformedMissing.isEmpty() && malformedRepeated.isEmpty(),
                input.malformedRecords() + " malformed; missing " + malformedMissing.size() + sample(malformedMissing)
                        + ", more than once " + malformedRepeated.size() + sample(malformedRepeated));
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
