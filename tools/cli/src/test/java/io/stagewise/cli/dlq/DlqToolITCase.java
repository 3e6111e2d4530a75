package io.stagewise.cli.dlq;

import io.stagewise.cli.CliRun;
import static io.stagewise.cli.dlq.TestDeadLetters.declinedAtCharge;
import static io.stagewise.cli.dlq.TestDeadLetters.dlqRecord;
import static io.stagewise.cli.dlq.TestDeadLetters.header;
import static io.stagewise.cli.dlq.TestDeadLetters.letter;
import static io.stagewise.cli.dlq.TestDeadLetters.payment;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.stagewise.jobs.Topics;
import io.stagewise.jobs.audit.TopicReader;
import io.stagewise.testkit.EmbeddedKafka;
import io.stagewise.testkit.FreePorts;
import io.stagewise.operators.event.DeadLetter;
import io.stagewise.operators.event.FailureReason;
import io.stagewise.operators.event.Origin;
import io.stagewise.operators.event.StagewiseHeaders;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import java.util.stream.StreamSupport;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code stagewise dlq list | show | replay} through the real command line against a real broker:
 * dead letters are written as the pipeline's DLQ sink writes them ({@code DeadLetterSerializer}),
 * then listed, shown and replayed; replay records are read back {@code read_committed}.
 */
class DlqToolITCase {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final AtomicInteger TOPICS = new AtomicInteger();

    @TempDir
    static Path tmp;

    private static EmbeddedKafka kafka;

    private String input;
    private String dlq;
    private final Instant now = Instant.now();

    @BeforeAll
    static void startKafka() {
        kafka = EmbeddedKafka.start(tmp.resolve("kafka"));
    }

    @AfterAll
    static void stopKafka() {
        if (kafka != null) {
            kafka.close();
        }
    }

    @BeforeEach
    void topics() {
        input = "pay-in-" + TOPICS.incrementAndGet();
        dlq = Topics.dlq(input);
        Topics.createAll(kafka.bootstrapServers(), 2, List.of(input, dlq));
    }

    /**
     * The topic as read_committed consumers see it once at least {@code atLeast} records are
     * visible: a transaction's commit markers reach the partitions shortly after commitTransaction()
     * returns, so the last stable offset lags behind a finished replay for a moment.
     */
    private static List<ConsumerRecord<byte[], byte[]>> committed(String topic, int atLeast) {
        Awaitility.await(atLeast + " committed records in " + topic).atMost(Duration.ofSeconds(30))
                .until(() -> TopicReader.readAll(kafka.bootstrapServers(), topic, Duration.ofSeconds(30)).size() >= atLeast);
        return TopicReader.readAll(kafka.bootstrapServers(), topic, Duration.ofSeconds(30));
    }

    @Test
    void listShowsEveryDeadLetterAndFiltersByReasonStageTimeAndIds() throws Exception {
        List<String> at = write(
                deadLetter("pay-1", FailureReason.PERMANENT, "charge", now.minus(Duration.ofHours(3))),
                deadLetter("pay-2", FailureReason.EXHAUSTED, "notify", now.minus(Duration.ofMinutes(30))),
                deadLetter("pay-3", FailureReason.ERROR, "validate", now.minus(Duration.ofMinutes(10))),
                malformed("bad-1", "{\"id\":\"bad-1\", oops", now.minus(Duration.ofMinutes(1))));

        CliRun all = dlq("list");

        assertThat(all.exitCode()).isZero();
        assertThat(all.out()).contains("EVENT ID", "STAGE", "REASON", "RETRIES", "AGE", "ORIGIN", "DLQ");
        String pay1Row = all.out().lines().filter(l -> l.startsWith("pay-1 ")).findFirst().orElseThrow();
        assertThat(pay1Row).contains("charge", "permanent", "3h 0m", input + "/0/100", at.get(0));
        assertThat(all.out()).contains("4 of 4 dead letter(s) in " + dlq + " match (all dead letters)");
        assertThat(ids("list")).containsExactly("pay-1", "pay-2", "pay-3", "bad-1");

        assertThat(ids("list", "--reason", "permanent,exhausted")).containsExactly("pay-1", "pay-2");
        assertThat(ids("list", "--reason", "ERROR", "--reason", "malformed")).containsExactly("pay-3", "bad-1");
        assertThat(ids("list", "--stage", "charge", "--stage", "ingest")).containsExactly("pay-1", "bad-1");
        assertThat(ids("list", "--since", "1h")).containsExactly("pay-2", "pay-3", "bad-1");
        assertThat(ids("list", "--since", now.minus(Duration.ofHours(4)).toString(),
                "--until", now.minus(Duration.ofMinutes(20)).toString())).containsExactly("pay-1", "pay-2");
        assertThat(ids("list", "--ids", "pay-3,pay-9", "--ids", "bad-1")).containsExactly("pay-3", "bad-1");
        assertThat(ids("list", "--reason", "permanent", "--since", "1h")).isEmpty();

        JsonNode limited = lastLineJson(dlq("list", "--limit", "1", "--json"));
        assertThat(limited.path("matched").asInt()).isEqualTo(4);
        assertThat(limited.path("shown").asInt()).isEqualTo(1);
        assertThat(limited.path("read").asInt()).isEqualTo(4);
        assertThat(limited.path("byReason").toString())
                .isEqualTo("{\"error\":1,\"exhausted\":1,\"malformed\":1,\"permanent\":1}");
        assertThat(limited.path("deadLetters").get(0).path("dlq").asText()).isEqualTo(at.get(0));

        CliRun summary = dlq("list", "--summary", "--json");
        assertThat(summary.exitCode()).isZero();
        assertThat(summary.out()).contains("HOUR (UTC)", "COUNT").doesNotContain("EVENT ID");
        JsonNode cells = lastLineJson(summary).path("byHourReasonStage");
        assertThat(cells).hasSize(4);
        long counted = 0;
        for (JsonNode cell : cells) {
            counted += cell.path("count").asLong();
        }
        assertThat(counted).isEqualTo(4);
        assertThat(lastLineJson(summary).path("deadLetters")).isEmpty();
    }

    @Test
    void showPrintsEveryDeadLetterOfTheIdWithHeadersPayloadAndProgress() throws Exception {
        DeadLetter first = deadLetter("pay-1", FailureReason.PERMANENT, "charge", now.minus(Duration.ofHours(2)));
        DeadLetter again = deadLetter("pay-1", FailureReason.PERMANENT, "charge", now.minus(Duration.ofHours(1)));
        List<String> at = write(first, deadLetter("pay-2", FailureReason.ERROR, "validate", now));
        again.replayOf = at.get(0);
        again.progress = declinedAtCharge("pay-1").replace("\"keyGeneration\":2", "\"keyGeneration\":3");
        String againAt = write(again).get(0);

        CliRun shown = dlq("show", "pay-1", "--json");

        assertThat(shown.exitCode()).isZero();
        assertThat(shown.out())
                .contains("Dead letter 1 of 2 of event pay-1: " + at.get(0) + " (superseded")
                .contains("Dead letter 2 of 2 of event pay-1: " + againAt + " (latest)")
                .contains(StagewiseHeaders.DEAD_LETTER_HEADERS)
                .containsPattern(StagewiseHeaders.REPLAY_OF.replace(".", "\\.") + " +" + at.get(0))
                .contains("Key: acct-3")
                .contains("\"amount\" : \"12.50\"")
                .contains("Progress: completed validate; pending charge (attempts 1, next idempotency key generation 2)")
                .contains("Progress: completed validate; pending charge (attempts 1, next idempotency key generation 3)")
                .contains("\"keyGeneration\" : 3")
                .doesNotContain("pay-2");
        JsonNode json = lastLineJson(shown);
        assertThat(json.path("count").asInt()).isEqualTo(2);
        assertThat(json.path("deadLetters").get(1).path("headers").path(StagewiseHeaders.REPLAY_OF).asText())
                .isEqualTo(at.get(0));
        assertThat(json.path("deadLetters").get(0).path("payload").path("payload").path("amount").asText())
                .isEqualTo("12.50");
        assertThat(json.path("deadLetters").get(0).path("progress").path("pending").path("keyGeneration").asInt())
                .isEqualTo(2);
    }

    @Test
    void showEscapesAPayloadThatIsNotJsonAndRefusesAnUnknownId() throws Exception {
        write(malformed("bad-1", "{\"id\":\"bad-1\", oops\n\u001b[2J", now));

        CliRun shown = dlq("show", "bad-1");
        CliRun unknown = dlq("show", "nope");

        assertThat(shown.exitCode()).isZero();
        assertThat(shown.out()).contains("Payload (not JSON, 24 bytes, escaped):")
                .contains("{\"id\":\"bad-1\", oops\\n\\u001b[2J")
                .doesNotContain("\u001b");
        assertThat(unknown.exitCode()).isEqualTo(2);
        assertThat(unknown.err().strip()).isEqualTo("stagewise: no dead letter with event id 'nope' in " + dlq
                + " (1 record(s) read); 'stagewise dlq list' shows the ids");
    }

    @Test
    void replayWritesTheOriginalBytesWithReplayOfOriginAndProgressAndSkipsMalformed() throws Exception {
        DeadLetter declined = deadLetter("pay-1", FailureReason.PERMANENT, "charge", now.minusSeconds(60));
        declined.retryCount = 4;
        write(declined,
                deadLetter("pay-2", FailureReason.EXHAUSTED, "notify", now.minusSeconds(30)),
                malformed("bad-1", "{\"id\":\"bad-1\", oops", now.minusSeconds(10)));
        Map<String, ConsumerRecord<byte[], byte[]>> letters = TopicReader.readAll(kafka.bootstrapServers(), dlq,
                Duration.ofSeconds(30)).stream().collect(Collectors.toMap(r -> header(r, StagewiseHeaders.EVENT_ID), r -> r));

        CliRun replay = dlq("replay", "--all", "--rate", "0", "--json");

        assertThat(replay.exitCode()).as(replay.err()).isZero();
        assertThat(replay.out()).contains("Skipping 1 malformed dead letter(s)").contains("--include-malformed")
                .contains("Replayed 2 dead letter(s) to " + input + " in 1 transaction(s)");
        JsonNode summary = lastLineJson(replay);
        assertThat(summary.path("replayed").asInt()).isEqualTo(2);
        assertThat(summary.path("skipped").path("malformed").asInt()).isEqualTo(1);
        assertThat(summary.path("transactionalId").asText()).startsWith("stagewise-replay-" + dlq + "-");

        List<ConsumerRecord<byte[], byte[]>> replayed = committed(input, 2);
        assertThat(replayed).hasSize(2);
        for (ConsumerRecord<byte[], byte[]> record : replayed) {
            String id = JSON.readTree(record.value()).path("id").asText();
            ConsumerRecord<byte[], byte[]> letter = letters.get(id);
            assertThat(record.key()).isEqualTo(letter.key());
            assertThat(record.value()).isEqualTo(letter.value());
            assertThat(header(record, StagewiseHeaders.REPLAY_OF))
                    .isEqualTo(letter.topic() + "/" + letter.partition() + "/" + letter.offset());
            for (String name : List.of(StagewiseHeaders.ORIGIN_TOPIC, StagewiseHeaders.ORIGIN_PARTITION,
                    StagewiseHeaders.ORIGIN_OFFSET, StagewiseHeaders.ORIGIN_TIMESTAMP, StagewiseHeaders.PROGRESS,
                    StagewiseHeaders.RETRY_COUNT)) {
                assertThat(header(record, name)).as(name).isEqualTo(header(letter, name));
            }
            assertThat(header(record, StagewiseHeaders.FAILURE_REASON)).isNull();
        }
        assertThat(header(replayed.stream().filter(r -> header(r, StagewiseHeaders.RETRY_COUNT).equals("4")).findFirst()
                .orElseThrow(), StagewiseHeaders.ORIGIN_OFFSET)).isEqualTo("100");

        CliRun malformed = dlq("replay", "--reason", "malformed", "--include-malformed", "--json");
        assertThat(lastLineJson(malformed).path("replayed").asInt()).isEqualTo(1);
        List<ConsumerRecord<byte[], byte[]>> after = committed(input, 3);
        assertThat(after).hasSize(3);
        assertThat(new String(after.stream().filter(r -> !replayed.stream().anyMatch(o -> o.offset() == r.offset()
                && o.partition() == r.partition())).findFirst().orElseThrow().value(), StandardCharsets.UTF_8))
                .isEqualTo("{\"id\":\"bad-1\", oops");
    }

    @Test
    void aDryRunListsTheSelectionAndWritesNothing() throws Exception {
        List<String> at = write(
                deadLetter("pay-1", FailureReason.PERMANENT, "charge", now),
                deadLetter("pay-2", FailureReason.ERROR, "validate", now));

        CliRun dryRun = dlq("replay", "--reason", "permanent", "--dry-run", "--json");

        assertThat(dryRun.exitCode()).isZero();
        assertThat(dryRun.out()).contains("Dry run: would replay these 1 to " + input)
                .contains("Dry run: nothing was written.");
        assertThat(lastLineJson(dryRun).path("wouldReplay").toString()).isEqualTo("[\"" + at.get(0) + "\"]");
        assertThat(lastLineJson(dryRun).path("replayed").asInt()).isZero();
        assertThat(latestOffsets(input)).as("not even an aborted transaction").containsOnly(0L);
    }

    @Test
    void replayingTheSameSelectionAgainWritesTheSameReplayRecords() throws Exception {
        write(deadLetter("pay-1", FailureReason.PERMANENT, "charge", now));

        dlq("replay", "--ids", "pay-1");
        dlq("replay", "--ids", "pay-1", "--run-id", "second");

        List<ConsumerRecord<byte[], byte[]>> replayed = committed(input, 2);
        assertThat(replayed).hasSize(2);
        assertThat(replayed.get(0).value()).isEqualTo(replayed.get(1).value());
        assertThat(headers(replayed.get(0))).isEqualTo(headers(replayed.get(1)));
    }

    @Test
    void badInputGetsOneClearLineAndExitCode2() {
        int closedPort = FreePorts.pick();

        CliRun noSelection = dlq("replay");
        CliRun unknownReason = dlq("list", "--reason", "permanent,timeout");
        CliRun inverted = dlq("list", "--since", "2026-11-27T19:00:00Z", "--until", "2026-11-27T18:00:00Z");
        CliRun badInstant = dlq("replay", "--since", "2026-11-27T25:00:00Z");
        CliRun allAndFilter = dlq("replay", "--all", "--stage", "charge");
        CliRun missingTopic = CliRun.stagewise("dlq", "list", "--bootstrap-servers", kafka.bootstrapServers(), "--topic", "no-such-topic");
        long start = System.nanoTime();
        CliRun unreachable = CliRun.stagewise("dlq", "list", "--bootstrap-servers", "127.0.0.1:" + closedPort);
        Duration unreachableTook = Duration.ofNanos(System.nanoTime() - start);
        CliRun noSubcommand = CliRun.stagewise("dlq");

        assertThat(noSelection.exitCode()).isEqualTo(2);
        assertThat(noSelection.err()).contains("stagewise: replay needs a selection: --ids, --since/--until, --reason,"
                + " --stage, or --all");
        assertThat(unknownReason.exitCode()).isEqualTo(2);
        assertThat(unknownReason.err().strip())
                .isEqualTo("stagewise: unknown --reason 'timeout'; use malformed, permanent, exhausted, error");
        assertThat(inverted.exitCode()).isEqualTo(2);
        assertThat(inverted.err()).contains("must be before --until");
        assertThat(badInstant.exitCode()).isEqualTo(2);
        assertThat(badInstant.err()).contains("--since '2026-11-27T25:00:00Z' is not a valid ISO-8601 instant");
        assertThat(allAndFilter.exitCode()).isEqualTo(2);
        assertThat(missingTopic.exitCode()).isEqualTo(2);
        assertThat(missingTopic.err()).contains("DLQ topic 'no-such-topic.dlq' does not exist on " + kafka.bootstrapServers());
        assertThat(unreachable.exitCode()).isEqualTo(2);
        assertThat(unreachable.err()).contains("cannot reach a Kafka broker at 127.0.0.1:" + closedPort);
        assertThat(unreachableTook).isLessThan(Duration.ofSeconds(20));
        assertThat(noSubcommand.exitCode()).isEqualTo(2);
        assertThat(noSubcommand.err()).contains("a subcommand is required");
        for (CliRun r : List.of(noSelection, unknownReason, inverted, badInstant, allAndFilter, missingTopic, unreachable)) {
            assertThat(r.err().strip().lines().count()).as(r.err()).isEqualTo(1);
        }
    }

    @Test
    void anEmptyDlqListsNothingAndReplaysNothing() {
        CliRun list = dlq("list", "--json");
        CliRun replay = dlq("replay", "--all", "--json");

        assertThat(list.exitCode()).isZero();
        assertThat(list.out()).contains("No dead letters in " + dlq + " match");
        assertThat(lastLineJson(list).path("read").asInt()).isZero();
        assertThat(replay.exitCode()).isZero();
        assertThat(replay.out()).contains("Nothing to replay.");
        assertThat(lastLineJson(replay).path("replayed").asInt()).isZero();
    }

    private DeadLetter deadLetter(String id, FailureReason reason, String stage, Instant failedAt) {
        return letter(id, "acct-3", payment(id, "acct-3", "12.50"), reason, stage,
                new Origin(input, 0, 100 + Integer.parseInt(id.replaceAll("\\D", "0")) - 1, failedAt.toEpochMilli() - 5000),
                failedAt.toEpochMilli(), declinedAtCharge(id));
    }

    private DeadLetter malformed(String sniffedId, String value, Instant failedAt) {
        DeadLetter letter = letter(sniffedId, "acct-9", value.getBytes(StandardCharsets.UTF_8), FailureReason.MALFORMED,
                StagewiseHeaders.INGEST_STAGE, new Origin(input, 1, 7, failedAt.toEpochMilli() - 5000),
                failedAt.toEpochMilli(), "{}");
        return letter;
    }

    /** Writes dead letters as the pipeline's DLQ sink does; returns their DLQ coordinates. */
    private List<String> write(DeadLetter... letters) throws Exception {
        Properties props = new Properties();
        props.setProperty(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
        List<String> coordinates = new ArrayList<>();
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props, new ByteArraySerializer(),
                new ByteArraySerializer())) {
            for (DeadLetter letter : letters) {
                RecordMetadata meta = producer.send(dlqRecord(dlq, letter)).get(30, TimeUnit.SECONDS);
                coordinates.add(meta.topic() + "/" + meta.partition() + "/" + meta.offset());
            }
        }
        return coordinates;
    }

    private List<Long> latestOffsets(String topic) throws Exception {
        try (Admin admin = Topics.admin(kafka.bootstrapServers())) {
            return admin.listOffsets(Map.of(new TopicPartition(topic, 0), OffsetSpec.latest(),
                            new TopicPartition(topic, 1), OffsetSpec.latest()))
                    .all().get(30, TimeUnit.SECONDS).values().stream().map(i -> i.offset()).collect(Collectors.toList());
        }
    }

    private static Map<String, String> headers(ConsumerRecord<byte[], byte[]> record) {
        return StreamSupport.stream(record.headers().spliterator(), false)
                .collect(Collectors.toMap(h -> h.key(), h -> new String(h.value(), StandardCharsets.UTF_8)));
    }

    private List<String> ids(String... args) {
        String[] withJson = Arrays.copyOf(args, args.length + 1);
        withJson[args.length] = "--json";
        CliRun result = dlq(withJson);
        assertThat(result.exitCode()).as(result.err()).isZero();
        List<String> ids = new ArrayList<>();
        lastLineJson(result).path("deadLetters").forEach(l -> ids.add(l.path("eventId").asText()));
        return ids;
    }

    private CliRun dlq(String subcommand, String... args) {
        List<String> all = new ArrayList<>(List.of("dlq", subcommand, "--bootstrap-servers", kafka.bootstrapServers(),
                "--topic", input));
        all.addAll(List.of(args));
        return CliRun.stagewise(all.toArray(String[]::new));
    }

    private CliRun dlq(String[] args) {
        return dlq(args[0], Arrays.copyOfRange(args, 1, args.length));
    }

    private static JsonNode lastLineJson(CliRun result) {
        List<String> lines = result.out().lines().collect(Collectors.toList());
        try {
            return JSON.readTree(lines.get(lines.size() - 1));
        } catch (Exception e) {
            throw new AssertionError("last line is not JSON:\n" + result.out() + "\nerr: " + result.err(), e);
        }
    }

}
