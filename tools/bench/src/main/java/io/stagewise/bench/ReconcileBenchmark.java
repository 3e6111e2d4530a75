package io.stagewise.bench;

import io.stagewise.jobs.StagewiseException;
import io.stagewise.jobs.Topics;
import io.stagewise.jobs.audit.Classification.IdClass;
import io.stagewise.jobs.payments.PaymentsLedger;
import io.stagewise.jobs.payments.ledger.LedgerWriter;
import io.stagewise.jobs.reconcile.ReconcileReport;
import io.stagewise.jobs.reconcile.ReconcileSettings;
import io.stagewise.jobs.reconcile.Reconciliation;
import io.stagewise.operators.event.FailureReason;
import io.stagewise.operators.event.StagewiseHeaders;
import io.stagewise.operators.ingest.EventParser;
import io.stagewise.testkit.EmbeddedKafka;
import io.stagewise.testkit.EmbeddedPostgres;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintStream;
import java.io.StringReader;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.postgresql.PGConnection;

/**
 * {@code stagewise bench reconcile}: ids reconciled per second by the reconcile job
 * (docs/reconcile.md) at each parallelism, over N generated payments, with the peak heap of the JVM
 * that runs the job. The data is written straight into a broker and PostgreSQL (no pipeline run):
 * N input records, one output record per completed payment, a dead letter for one payment in a
 * thousand, a ledger row per completed payment and the balances. Each reconciliation runs in a
 * child JVM of its own (a Flink mini cluster, {@code -Xmx} fixed), so its heap peak is the job's
 * alone: the keyed join by event id is a sort in batch mode, spilled to disk, and the peak stays
 * flat as N grows (no topic is ever held in one JVM).
 */
public final class ReconcileBenchmark {
    private static final String INPUT = "bench-reconcile";
    private static final int PARTITIONS = 4;
    private static final int ACCOUNTS = 1000;
    private static final String RESULT = "RECONCILE-BENCH ";

    private ReconcileBenchmark() {}

    /**
     * @param events input sizes, each measured
     * @param parallelisms of the reconcile job
     * @param heap {@code -Xmx} of the child JVM that runs each reconciliation
     */
    public record Settings(List<Integer> events, List<Integer> parallelisms, String heap) {
        public Settings {
            if (events.isEmpty() || events.stream().anyMatch(n -> n < 1)) {
                throw new StagewiseException("--events must be >= 1, got " + events);
            }
            if (parallelisms.isEmpty() || parallelisms.stream().anyMatch(p -> p < 1)) {
                throw new StagewiseException("--parallelism must be >= 1, got " + parallelisms);
            }
        }
    }

    /** One measurement. */
    public record Row(int events, int parallelism, long ids, double seconds, long peakHeapBytes) {
        double idsPerSecond() {
            return ids / seconds;
        }
    }

    public static List<Row> run(Settings settings, PrintStream out) throws Exception {
        Path dir = Files.createTempDirectory("stagewise-bench-reconcile-");
        List<Row> rows = new ArrayList<>();
        try (EmbeddedKafka kafka = EmbeddedKafka.start(dir.resolve("kafka"));
                EmbeddedPostgres postgres = EmbeddedPostgres.start(dir.resolve("postgres"))) {
            for (int events : settings.events()) {
                String input = INPUT + "-" + events;
                String database = postgres.createDatabase("bench_reconcile_" + events);
                out.printf("Writing %,d payments into %s and its output, DLQ and ledger ...%n", events, input);
                write(kafka.bootstrapServers(), database, input, events);
                for (int parallelism : settings.parallelisms()) {
                    Row row = measure(kafka.bootstrapServers(), database, input, events, parallelism, settings.heap(),
                            dir.resolve("child-" + events + "-" + parallelism + ".log"));
                    out.printf("  %,d events, parallelism %d: %,d ids in %.1f s, peak heap %d MiB%n", events, parallelism,
                            row.ids(), row.seconds(), row.peakHeapBytes() >> 20);
                    rows.add(row);
                }
            }
        } finally {
            deleteQuietly(dir);
        }
        out.println();
        out.printf("Reconcile: ids/s over N input events (input, output, DLQ, ledger and balances read; child JVM -Xmx%s)%n",
                settings.heap());
        out.printf("%12s %12s %12s %10s %12s %16s%n", "events", "parallelism", "ids", "seconds", "ids/s", "peak heap MiB");
        for (Row row : rows) {
            out.printf("%,12d %12d %,12d %10.1f %,12.0f %16d%n", row.events(), row.parallelism(), row.ids(), row.seconds(),
                    row.idsPerSecond(), row.peakHeapBytes() >> 20);
        }
        return rows;
    }

    /** Input records, an output record per completed payment, a dead letter per thousandth, ledger rows and balances. */
    static void write(String bootstrapServers, String jdbcUrl, String input, int events) throws Exception {
        Topics.createAll(bootstrapServers, PARTITIONS, List.of(input, input + ".completed", Topics.dlq(input)));
        Properties props = new Properties();
        props.setProperty(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        props.setProperty(ProducerConfig.LINGER_MS_CONFIG, "20");
        props.setProperty(ProducerConfig.BATCH_SIZE_CONFIG, Integer.toString(256 * 1024));
        props.setProperty(ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4");
        Map<String, BigDecimal> balances = new TreeMap<>();
        StringBuilder ledger = new StringBuilder();
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer());
                Connection db = EmbeddedPostgres.connect(jdbcUrl)) {
            new LedgerWriter().createSchema(db);
            for (int i = 0; i < events; i++) {
                String id = String.format("pay-%09d", i);
                String account = "acct-" + (i % ACCOUNTS);
                BigDecimal amount = BigDecimal.valueOf(100 + i % 900, 2);
                byte[] key = account.getBytes(StandardCharsets.UTF_8);
                byte[] value = ("{\"id\":\"" + id + "\",\"type\":\"payment.requested\",\"key\":\"" + account
                        + "\",\"occurredAt\":\"2026-11-27T18:00:00Z\",\"payload\":{\"account\":\"" + account + "\",\"amount\":\""
                        + amount.toPlainString() + "\",\"currency\":\"EUR\",\"merchant\":\"m-3\"}}").getBytes(StandardCharsets.UTF_8);
                producer.send(new ProducerRecord<>(input, key, value));
                if (i % 1000 == 999) {
                    ProducerRecord<byte[], byte[]> letter = new ProducerRecord<>(Topics.dlq(input), key, value);
                    letter.headers().add(StagewiseHeaders.EVENT_ID, id.getBytes(StandardCharsets.UTF_8));
                    letter.headers().add(StagewiseHeaders.FAILURE_REASON,
                            FailureReason.PERMANENT.headerValue().getBytes(StandardCharsets.UTF_8));
                    producer.send(letter);
                    continue;
                }
                ProducerRecord<byte[], byte[]> done = new ProducerRecord<>(input + ".completed", key, value);
                done.headers().add(StagewiseHeaders.EVENT_ID, id.getBytes(StandardCharsets.UTF_8));
                producer.send(done);
                ledger.append(id).append('\t').append(id).append('\t').append(account).append('\t').append(amount.toPlainString())
                        .append("\tEUR\tch-").append(id).append("\t2026-11-27 18:00:00+00\n");
                balances.merge(account, amount, BigDecimal::add);
                if (ledger.length() > 4 << 20) {
                    copy(db, ledger);
                }
            }
            copy(db, ledger);
            StringBuilder rows = new StringBuilder();
            balances.forEach((account, sum) -> rows.append(account).append('\t').append(sum.toPlainString()).append('\n'));
            ((PGConnection) db).getCopyAPI().copyIn("COPY " + LedgerWriter.BALANCES_TABLE + " (account, balance) FROM STDIN",
                    new StringReader(rows.toString()));
            producer.flush();
        }
    }

    private static void copy(Connection db, StringBuilder rows) throws Exception {
        ((PGConnection) db).getCopyAPI().copyIn("COPY " + LedgerWriter.LEDGER_TABLE
                + " (payment_id, event_id, account, amount, currency, charge_id, applied_at) FROM STDIN", new StringReader(rows.toString()));
        rows.setLength(0);
    }

    /** Runs one reconciliation in a child JVM and reads its result line. */
    private static Row measure(String bootstrapServers, String jdbcUrl, String input, int events, int parallelism, String heap,
                               Path log) throws Exception {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("-Xmx" + heap);
        ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
                .filter(arg -> arg.startsWith("--add-opens") || arg.startsWith("--add-exports"))
                .forEach(command::add);
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(Child.class.getName());
        command.addAll(List.of(bootstrapServers, jdbcUrl, input, Integer.toString(parallelism)));
        Process child = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        if (!child.waitFor(2, TimeUnit.HOURS)) {
            child.destroyForcibly();
            throw new IllegalStateException("the reconcile run at parallelism " + parallelism + " did not end within 2 h; see " + log);
        }
        String result = null;
        try (BufferedReader lines = Files.newBufferedReader(log)) {
            for (String line = lines.readLine(); line != null; line = lines.readLine()) {
                if (line.startsWith(RESULT)) {
                    result = line.substring(RESULT.length());
                }
            }
        }
        if (child.exitValue() != 0 || result == null) {
            throw new IllegalStateException("the reconcile run at parallelism " + parallelism + " failed (exit " + child.exitValue()
                    + "):\n" + tail(log));
        }
        String[] f = result.trim().split(" ");
        return new Row(events, parallelism, Long.parseLong(f[0]), Double.parseDouble(f[1]), Long.parseLong(f[2]));
    }

    private static String tail(Path log) throws IOException {
        List<String> lines = Files.readAllLines(log);
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
    }

    /**
     * The child JVM: one full reconciliation (ledger, no gateway), then {@code RECONCILE-BENCH <ids>
     * <seconds> <peak heap bytes>}; the peak is the sum of the heap pools' peaks (an upper bound of the
     * heap ever in use at once).
     */
    public static final class Child {
        private Child() {}

        public static void main(String[] args) throws Exception {
            String bootstrap = args[0];
            String jdbcUrl = args[1];
            String input = args[2];
            int parallelism = Integer.parseInt(args[3]);
            ReconcileSettings settings = new ReconcileSettings(bootstrap, input, input + ".completed", Topics.dlq(input),
                    Optional.of(new PaymentsLedger.Database(jdbcUrl, null, null)), Optional.empty(), Optional.empty(),
                    Duration.ZERO, EventParser.DEFAULT_MAX_EVENT_BYTES, parallelism, Map.of());
            Reconciliation.Options options = new Reconciliation.Options("bench-" + parallelism, 0, false, false, 100,
                    Optional.empty());
            long started = System.nanoTime();
            ReconcileReport report = Reconciliation.run(StreamExecutionEnvironment.getExecutionEnvironment(), settings, options);
            double seconds = (System.nanoTime() - started) / 1e9;
            long ids = 0;
            for (IdClass idClass : IdClass.values()) {
                ids += report.count(idClass);
            }
            if (report.discrepancies() != 0) {
                throw new IllegalStateException("the generated data should reconcile clean:\n" + report.render());
            }
            long peak = 0;
            for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
                if (pool.getType() == MemoryType.HEAP) {
                    peak += pool.getPeakUsage().getUsed();
                }
            }
            System.out.println(RESULT + ids + " " + seconds + " " + peak);
            System.exit(0);
        }
    }

    private static void deleteQuietly(Path dir) {
        try (var paths = Files.walk(dir)) {
            paths.sorted((a, b) -> b.getNameCount() - a.getNameCount()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // a temp directory; nothing depends on its removal
        }
    }
}
