package io.stagewise.bench.peer;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class PeerBenchmarkTest {
    private static final List<Path> CLASS_PATH = List.of(Path.of("/cli/stagewise.jar"),
            Path.of("/cli/lib/frocksdbjni-8.10.0-ververica-1.0.jar"), Path.of("/cli/lib/kafka-streams-4.2.0.jar"),
            Path.of("/m2/rocksdbjni-10.1.3.jar"), Path.of("/cli/lib/flink-runtime-2.2.1.jar"));

    /** Two builds of org.rocksdb on one class path would load whichever comes first: each JVM gets one. */
    @Test
    void eachApplicationGetsOnlyItsOwnRocksdbBuild() {
        Path streamsRocksdb = Path.of("/cli/peer-lib/rocksdbjni-10.1.3.jar");

        assertThat(PeerBenchmark.childClassPath(PeerBenchmark.STAGEWISE, streamsRocksdb, CLASS_PATH)).containsExactly(
                "/cli/stagewise.jar", "/cli/lib/frocksdbjni-8.10.0-ververica-1.0.jar", "/cli/lib/kafka-streams-4.2.0.jar",
                "/cli/lib/flink-runtime-2.2.1.jar");
        assertThat(PeerBenchmark.childClassPath(PeerBenchmark.STREAMS, streamsRocksdb, CLASS_PATH)).containsExactly(
                "/cli/peer-lib/rocksdbjni-10.1.3.jar", "/cli/stagewise.jar", "/cli/lib/kafka-streams-4.2.0.jar",
                "/cli/lib/flink-runtime-2.2.1.jar");
    }

    @Test
    void parsedEventsCrossTheRepartitionTopicUnchanged() {
        PeerStreamsApp.ParsedSerde serde = new PeerStreamsApp.ParsedSerde();
        PeerStreamsApp.Parsed parsed = new PeerStreamsApp.Parsed("pay-1", "payment.requested", "acct-7",
                "{\"amount\":\"12.50\",\"note\":\"€\"}", "payments", 2, 41, 1_700_000_000_000L);

        byte[] bytes = serde.serializer().serialize("t", parsed);

        assertThat(serde.deserializer().deserialize("t", bytes)).isEqualTo(parsed);
    }
}
