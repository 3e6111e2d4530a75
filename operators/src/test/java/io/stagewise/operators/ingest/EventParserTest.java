package io.stagewise.operators.ingest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stagewise.operators.event.Event;
import io.stagewise.operators.event.Origin;
import io.stagewise.operators.event.StagewiseHeaders;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class EventParserTest {
    private static final Origin HERE = new Origin("payments", 2, 41, 1_700_000_000_000L);
    private final EventParser parser = new EventParser(1024);

    private Event parse(String value) {
        return parser.parse("acct-7".getBytes(StandardCharsets.UTF_8), bytes(value), HERE, Map.of());
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void parsesTheEventFormat() {
        Event event = parse("{\"id\":\"pay-42\",\"type\":\"payment.requested\",\"key\":\"acct-9\","
                + "\"occurredAt\":\"2026-11-27T18:00:00Z\",\"payload\":{\"amount\":\"12.50\"},\"extra\":[1,2]}");

        assertThat(event.isMalformed()).isFalse();
        assertThat(event.id).isEqualTo("pay-42");
        assertThat(event.type).isEqualTo("payment.requested");
        assertThat(event.key).isEqualTo("acct-9");
        assertThat(event.occurredAt).isEqualTo("2026-11-27T18:00:00Z");
        assertThat(event.payloadText()).isEqualTo("{\"amount\":\"12.50\"}");
        assertThat(event.origin).isEqualTo(HERE);
        assertThat(event.progress).isEqualTo("{}");
        assertThat(event.replayOf).isNull();
        assertThat(event.value).isEqualTo(bytes("{\"id\":\"pay-42\",\"type\":\"payment.requested\",\"key\":\"acct-9\","
                + "\"occurredAt\":\"2026-11-27T18:00:00Z\",\"payload\":{\"amount\":\"12.50\"},\"extra\":[1,2]}"));
    }

    @Test
    void payloadIsTheOriginalTextAndOtherFieldsAreSkipped() {
        String payload = "{ \"amount\" : \"12.50\", \"nested\": {\"b\": \"}{\\\"\"}, \"list\": [1, {\"c\": null}], \"eur\": \"€\" }";
        Event event = parse("{\"extra\":{\"id\":\"inner\",\"type\":[\"x\"]},\"id\":\"pay-7\",\"payload\":" + payload
                + ",\"type\":\"t\",\"more\":[{\"payload\":1}]}");

        assertThat(event.isMalformed()).isFalse();
        assertThat(event.id).isEqualTo("pay-7");
        assertThat(event.type).isEqualTo("t");
        assertThat(event.payloadText()).isEqualTo(payload);
        assertThat(parse("{\"id\":\"a\",\"type\":\"t\",\"payload\":null}").payloadText()).isEqualTo("{}");
    }

    @Test
    void truncatedOrBrokenJsonIsMalformedWhereverItBreaks() {
        assertThat(parse("{\"id\":\"a\",\"type\":\"t\"").malformed).startsWith("not valid JSON");
        assertThat(parse("{\"id\":\"a\",\"type\":\"t\",\"payload\":{\"x\":1}").malformed).startsWith("not valid JSON");
        assertThat(parse("{\"id\":\"a\",\"type\":\"t\",\"other\":[1,}").malformed).startsWith("not valid JSON");
        assertThat(parse("{\"id\":\"a\",\"type\":\"t\",\"other\":\"unterminated}").malformed).startsWith("not valid JSON");
        assertThat(parse("[1,2").malformed).startsWith("not valid JSON");
        assertThat(parse("   ").malformed).isEqualTo("not a JSON object");
        byte[] utf16 = "{\"id\":\"a\",\"type\":\"t\",\"payload\":{}}".getBytes(StandardCharsets.UTF_16BE);
        assertThat(parser.parse(null, utf16, HERE, Map.of()).malformed).contains("not UTF-8");
    }

    @Test
    void businessKeyFallsBackToRecordKeyThenId() {
        assertThat(parse("{\"id\":\"a\",\"type\":\"t\"}").key).isEqualTo("acct-7");
        Event noKeys = parser.parse(null, bytes("{\"id\":\"a\",\"type\":\"t\"}"), HERE, Map.of());
        assertThat(noKeys.key).isEqualTo("a");
        assertThat(noKeys.payloadText()).isEqualTo("{}");
    }

    @Test
    void malformedInputNeverThrows() {
        assertThat(parse("{not json").malformed).startsWith("not valid JSON");
        assertThat(parse("[1,2]").malformed).isEqualTo("not a JSON object");
        assertThat(parse("\"text\"").malformed).isEqualTo("not a JSON object");
        assertThat(parse("{\"type\":\"t\"}").malformed).contains("'id'");
        assertThat(parse("{\"id\":\"\",\"type\":\"t\"}").malformed).contains("'id'");
        assertThat(parse("{\"id\":7,\"type\":\"t\"}").malformed).contains("'id'");
        assertThat(parse("{\"id\":\"a\"}").malformed).contains("'type'");
        assertThat(parse("{\"id\":\"a\",\"type\":\" \"}").malformed).contains("'type'");
        assertThat(parse("{\"id\":\"a\",\"type\":\"t\",\"payload\":[1]}").malformed).contains("'payload'");
        assertThat(parser.parse(null, null, HERE, Map.of()).malformed).isEqualTo("empty record value");
        assertThat(parser.parse(null, new byte[0], HERE, Map.of()).malformed).isEqualTo("empty record value");
        assertThat(parser.parse(null, new byte[] {(byte) 0xff, (byte) 0xfe, 0}, HERE, Map.of()).isMalformed()).isTrue();
    }

    @Test
    void idOfMalformedRecordIsKeptWhenReadable() {
        Event noType = parse("{\"id\":\"pay-1\"}");
        assertThat(noType.id).isEqualTo("pay-1");
        assertThat(parse("{\"type\":\"t\"}").id).isEmpty();
    }

    @Test
    void idLongerThan255IsMalformed() {
        String longId = "x".repeat(256);
        Event event = parse("{\"id\":\"" + longId + "\",\"type\":\"t\"}");
        assertThat(event.malformed).contains("256 characters");
        assertThat(parse("{\"id\":\"" + "x".repeat(255) + "\",\"type\":\"t\"}").isMalformed()).isFalse();
    }

    @Test
    void oversizedRecordIsMalformedAndKeepsItsId() {
        String big = "{\"id\":\"pay-big\",\"type\":\"t\",\"payload\":{\"pad\":\"" + "x".repeat(2000) + "\"}}";
        Event event = parse(big);
        assertThat(event.malformed).contains("exceeds the limit of 1024 bytes");
        assertThat(event.id).isEqualTo("pay-big");
        assertThat(event.value).hasSize(big.length());
    }

    @Test
    void stagewiseHeadersKeepTheFirstOriginAndProgress() {
        Map<String, String> headers = new HashMap<>();
        headers.put(StagewiseHeaders.ORIGIN_TOPIC, "payments");
        headers.put(StagewiseHeaders.ORIGIN_PARTITION, "0");
        headers.put(StagewiseHeaders.ORIGIN_OFFSET, "7");
        headers.put(StagewiseHeaders.ORIGIN_TIMESTAMP, "123");
        headers.put(StagewiseHeaders.REPLAY_OF, "payments.dlq/0/3");
        headers.put(StagewiseHeaders.PROGRESS, "{\"validate\":{}}");
        headers.put(StagewiseHeaders.RETRY_COUNT, "4");
        Event event = parser.parse(null, bytes("{\"id\":\"a\",\"type\":\"t\"}"),
                new Origin("payments", 3, 99, 456), headers);

        assertThat(event.isMalformed()).isFalse();
        assertThat(event.origin).isEqualTo(new Origin("payments", 0, 7, 123));
        assertThat(event.replayOf).isEqualTo("payments.dlq/0/3");
        assertThat(event.isReplay()).isTrue();
        assertThat(event.progress).isEqualTo("{\"validate\":{}}");
        assertThat(event.retryCount).isEqualTo(4);
    }

    @Test
    void aRepairByReconciliationIsAReInjectionLikeAReplay() {
        Event event = parser.parse(null, bytes("{\"id\":\"a\",\"type\":\"t\"}"), HERE,
                Map.of("stagewise.repair-of", "run-7:MISSING"));

        assertThat(event.isMalformed()).isFalse();
        assertThat(event.replayOf).as("not a DLQ replay").isNull();
        assertThat(event.repairOf).isEqualTo("run-7:MISSING");
        assertThat(event.isReplay()).as("admitted over DEAD_LETTERED like a replay").isTrue();
    }

    @Test
    void corruptStagewiseHeadersMakeTheRecordMalformed() {
        Event badOffset = parser.parse(null, bytes("{\"id\":\"a\",\"type\":\"t\"}"), HERE,
                Map.of(StagewiseHeaders.ORIGIN_TOPIC, "payments", StagewiseHeaders.ORIGIN_PARTITION, "0",
                        StagewiseHeaders.ORIGIN_OFFSET, "x", StagewiseHeaders.ORIGIN_TIMESTAMP, "1"));
        assertThat(badOffset.malformed).contains(StagewiseHeaders.ORIGIN_OFFSET);
        assertThat(badOffset.origin).isEqualTo(HERE);

        Event badProgress = parser.parse(null, bytes("{\"id\":\"a\",\"type\":\"t\"}"), HERE,
                Map.of(StagewiseHeaders.PROGRESS, "[oops"));
        assertThat(badProgress.malformed).contains(StagewiseHeaders.PROGRESS);

        Event negativeCount = parser.parse(null, bytes("{\"id\":\"a\",\"type\":\"t\"}"), HERE,
                Map.of(StagewiseHeaders.RETRY_COUNT, "-1"));
        assertThat(negativeCount.malformed).contains(StagewiseHeaders.RETRY_COUNT);
    }

    @Test
    void refusesANonPositiveSizeLimit() {
        assertThatThrownBy(() -> new EventParser(0)).isInstanceOf(IllegalArgumentException.class);
    }
}
