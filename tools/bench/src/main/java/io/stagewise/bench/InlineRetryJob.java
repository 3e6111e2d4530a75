package io.stagewise.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.stagewise.jobs.StagewiseException;
import io.stagewise.jobs.payments.PaymentsWorkflow;
import io.stagewise.operators.stage.StageContext;
import io.stagewise.operators.stage.http.HttpStage;
import io.stagewise.sinks.kafka.ExactlyOnceKafkaSinks;
import java.io.IOException;
import java.io.Serializable;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichFilterFunction;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.source.Source;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.datastream.AsyncDataStream;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.async.AsyncRetryStrategy;
import org.apache.flink.streaming.api.functions.async.ResultFuture;
import org.apache.flink.streaming.api.functions.async.RichAsyncFunction;
import org.apache.flink.streaming.util.retryable.AsyncRetryStrategies;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * The baseline of {@link IsolationBenchmark}: the payments workflow as a plain Flink job that
 * retries in line, with no Stagewise stage engine. Kafka input → {@code charge} then {@code notify}
 * against the gateway in one {@link AsyncDataStream#orderedWaitWithRetry} operator, retried with
 * Flink's {@link AsyncRetryStrategies.ExponentialBackoffDelayRetryStrategyBuilder} → completed
 * payments to Kafka, {@code EXACTLY_ONCE}.
 *
 * <p>Delivery guarantee: completed payments reach the output exactly once for {@code read_committed}
 * readers (Kafka transactions per checkpoint); calls carry the same idempotency keys as the
 * payments workflow ({@code <payment id>:charge}, {@code <payment id>:notify}), so a retry or a
 * re-run after a restore does not charge twice. By design (FLIP-232) Flink does not checkpoint the
 * retry state: after a restore, retries start again from the first attempt. A payment still failing
 * after the last retry is dropped and counted ({@code inline.failed.retryable}, {@code
 * inline.failed.permanent}); there is no DLQ and no retry topic. That is the point of the baseline:
 * ordered async I/O keeps every later payment, finished or not, in the operator's queue until the
 * failing one has used up its retries, so one failing dependency call stalls all output, and its
 * retries hold one of the {@link Settings#capacity()} slots for the whole retry budget.
 */
public final class InlineRetryJob {
    public static final String SOURCE_UID = "inline-kafka-source";
    public static final String CALLS_UID = "inline-payment-calls";
    public static final String COMPLETED_UID = "inline-completed-only";
    public static final String SINK_UID = "inline-output-sink";

    private static final ObjectMapper JSON = new ObjectMapper();

    private InlineRetryJob() {}

    /**
     * How the in-line variant calls and retries. {@code retries} are retries after the first call
     * (Flink's {@code maxAttempts}), waiting {@code initialDelay}, then x {@code multiplier} up to
     * {@code maxDelay}. Validated here, since Flink's builder does not validate.
     *
     * @param capacity elements the async operator holds per subtask (the in-flight bound)
     * @param callTimeout HTTP timeout of one call
     */
    public record Settings(int capacity, int retries, Duration initialDelay, Duration maxDelay, double multiplier,
                           Duration callTimeout) {
        public Settings {
            if (capacity < 1) {
                throw new StagewiseException("in-line capacity must be >= 1, got " + capacity);
            }
            if (retries < 0) {
                throw new StagewiseException("in-line retries must be >= 0, got " + retries);
            }
            if (initialDelay == null || initialDelay.isNegative() || initialDelay.isZero()) {
                throw new StagewiseException("in-line initial delay must be positive, got " + initialDelay);
            }
            if (maxDelay == null || maxDelay.compareTo(initialDelay) < 0) {
                throw new StagewiseException("in-line max delay (" + maxDelay + ") must be >= the initial delay ("
                        + initialDelay + ")");
            }
            if (!(multiplier >= 1) || Double.isInfinite(multiplier)) {
                throw new StagewiseException("in-line delay multiplier must be >= 1, got " + multiplier);
            }
            if (callTimeout == null || callTimeout.isNegative() || callTimeout.isZero()) {
                throw new StagewiseException("in-line call timeout must be positive, got " + callTimeout);
            }
        }

        /** The delay before retry n (1-based), as the strategy computes it for one element alone. */
        public long delayMillis(int retry) {
            return Math.min(maxDelay.toMillis(), Math.round(initialDelay.toMillis() * Math.pow(multiplier, retry - 1)));
        }

        /** What a payment that always fails waits in total between its calls: the sum of every delay. */
        public Duration totalDelay() {
            long total = 0;
            for (int retry = 1; retry <= retries; retry++) {
                total += delayMillis(retry);
            }
            return Duration.ofMillis(total);
        }

        /**
         * The async operator's timeout, which covers an element's retries too: enough for every call
         * to time out plus every delay, so it never cuts the retry budget short (a timed-out element
         * would be counted as failed, not lost; see {@link InlinePaymentCall#timeout}).
         */
        public Duration operatorTimeout() {
            return callTimeout.multipliedBy(2L * (retries + 1)).plus(totalDelay()).plusSeconds(10);
        }

        @Override
        public String toString() {
            return String.format("capacity %d, %d retries (%d ms x%s, at most %d ms; %.1f s of delays in all)", capacity,
                    retries, initialDelay.toMillis(), multiplier, maxDelay.toMillis(), totalDelay().toMillis() / 1000.0);
        }
    }

    /** Builds the job on {@code env}; the benchmark passes a Kafka source and {@link #sink}. */
    public static void build(StreamExecutionEnvironment env, Source<String, ?, ?> source, Sink<Outcome> sink,
                             String gatewayUrl, Settings settings) {
        DataStream<String> input = env.fromSource(source, WatermarkStrategy.noWatermarks(), "Kafka source")
                .uid(SOURCE_UID);
        AsyncDataStream.orderedWaitWithRetry(input, new InlinePaymentCall(gatewayUrl, settings.callTimeout()),
                        settings.operatorTimeout().toMillis(), TimeUnit.MILLISECONDS, settings.capacity(),
                        retryStrategy(settings))
                .uid(CALLS_UID)
                .name("Charge, then notify (ordered async I/O, retried in line)")
                .filter(new CompletedOnly())
                .uid(COMPLETED_UID)
                .name("Completed only (failed payments counted and dropped)")
                .sinkTo(sink)
                .uid(SINK_UID)
                .name("Output (Kafka, exactly once)");
    }

    /** Flink's exponential backoff, retrying an outcome that failed with a retryable error. */
    static AsyncRetryStrategy<Outcome> retryStrategy(Settings settings) {
        return new AsyncRetryStrategies.ExponentialBackoffDelayRetryStrategyBuilder<Outcome>(settings.retries(),
                settings.initialDelay().toMillis(), settings.maxDelay().toMillis(), settings.multiplier())
                .ifResult(new RetryableOutcome())
                .build();
    }

    /** Retry when the call failed with a retryable error. A class, not a lambda: the strategy is serialized. */
    static final class RetryableOutcome implements Predicate<Collection<Outcome>>, Serializable {
        private static final long serialVersionUID = 1L;

        @Override
        public boolean test(Collection<Outcome> outcomes) {
            return outcomes.stream().anyMatch(outcome -> outcome.retryable);
        }
    }

    /** The exactly-once output of completed payments to {@code topic} ({@link OutcomeSerializer}). */
    public static Sink<Outcome> sink(String bootstrapServers, String topic, String transactionalIdPrefix) {
        return ExactlyOnceKafkaSinks.create(bootstrapServers, transactionalIdPrefix, new OutcomeSerializer(topic),
                ExactlyOnceKafkaSinks.DEFAULT_TRANSACTION_TIMEOUT, new Properties());
    }

    /**
     * A completed payment as a record: key = account, value = JSON {@code {"id", "charge_id",
     * "notification_id"}}; {@code id} is the payment id, as in the pipeline's output.
     */
    static final class OutcomeSerializer implements KafkaRecordSerializationSchema<Outcome> {
        private static final long serialVersionUID = 1L;

        private final String topic;

        OutcomeSerializer(String topic) {
            this.topic = topic;
        }

        @Override
        public ProducerRecord<byte[], byte[]> serialize(Outcome outcome, KafkaSinkContext context, Long timestamp) {
            ObjectNode node = JSON.createObjectNode();
            node.put("id", outcome.id);
            node.put("charge_id", outcome.chargeId);
            node.put("notification_id", outcome.notificationId);
            return new ProducerRecord<>(topic, outcome.account.getBytes(StandardCharsets.UTF_8),
                    node.toString().getBytes(StandardCharsets.UTF_8));
        }
    }

    /** What one payment came to; a Flink POJO (no Kryo). */
    public static final class Outcome {
        public String id;
        public String account;
        public boolean completed;
        /** Failed, and worth another try (5xx, 409, 429, I/O error, timeout). */
        public boolean retryable;
        public String chargeId;
        public String notificationId;
        public String failure;

        public Outcome() {}

        static Outcome completed(String id, String account, String chargeId, String notificationId) {
            Outcome outcome = new Outcome();
            outcome.id = id;
            outcome.account = account;
            outcome.completed = true;
            outcome.chargeId = chargeId;
            outcome.notificationId = notificationId;
            return outcome;
        }

        static Outcome failed(String id, String account, boolean retryable, String failure) {
            Outcome outcome = new Outcome();
            outcome.id = id;
            outcome.account = account;
            outcome.retryable = retryable;
            outcome.failure = failure;
            return outcome;
        }
    }

    /**
     * {@code POST /charges}, then {@code POST /notifications} with the charge id, with the payments
     * workflow's bodies and idempotency keys. Never completes exceptionally: a failure is an
     * {@link Outcome} the retry strategy inspects, sorted as {@link HttpStage} sorts responses
     * (2xx success; 409, 429, 5xx and I/O errors retryable; any other 4xx permanent).
     */
    static final class InlinePaymentCall extends RichAsyncFunction<String, Outcome> {
        private static final long serialVersionUID = 1L;

        private final String chargesUrl;
        private final String notificationsUrl;
        private final Duration callTimeout;
        private transient HttpClient client;

        InlinePaymentCall(String gatewayUrl, Duration callTimeout) {
            String base = gatewayUrl.endsWith("/") ? gatewayUrl.substring(0, gatewayUrl.length() - 1) : gatewayUrl;
            this.chargesUrl = base + "/charges";
            this.notificationsUrl = base + "/notifications";
            this.callTimeout = callTimeout;
        }

        @Override
        public void open(OpenContext openContext) {
            client = HttpClient.newBuilder()
                    .version(HttpClient.Version.HTTP_1_1)
                    .connectTimeout(Duration.ofSeconds(5))
                    .build();
        }

        @Override
        public void asyncInvoke(String value, ResultFuture<Outcome> result) {
            JsonNode event;
            try {
                event = JSON.readTree(value);
            } catch (IOException e) {
                result.complete(List.of(Outcome.failed("?", "", false, "not JSON: " + e.getMessage())));
                return;
            }
            String id = event.path("id").asText();
            JsonNode payload = event.path("payload");
            String account = payload.path("account").asText();
            ObjectNode charge = JSON.createObjectNode();
            charge.put("payment_id", id);
            charge.put("account", account);
            charge.put("amount", payload.path("amount").asText());
            charge.put("currency", payload.path("currency").asText());
            charge.put("merchant", payload.path("merchant").asText());
            post(chargesUrl, StageContext.idempotencyKey(id, PaymentsWorkflow.CHARGE, 1), charge)
                    .thenCompose(charged -> {
                        ObjectNode notification = JSON.createObjectNode();
                        notification.put("payment_id", id);
                        notification.put("account", account);
                        notification.put("charge_id", charged.path("charge_id").asText());
                        return post(notificationsUrl, StageContext.idempotencyKey(id, PaymentsWorkflow.NOTIFY, 1),
                                notification)
                                .thenApply(notified -> Outcome.completed(id, account,
                                        charged.path("charge_id").asText(), notified.path("notification_id").asText()));
                    })
                    .exceptionally(failure -> {
                        Throwable cause = failure instanceof CompletionException && failure.getCause() != null
                                ? failure.getCause() : failure;
                        return Outcome.failed(id, account, !(cause instanceof PermanentCallFailure), cause.toString());
                    })
                    .thenAccept(outcome -> result.complete(List.of(outcome)));
        }

        private CompletableFuture<JsonNode> post(String url, String idempotencyKey, JsonNode body) {
            HttpRequest request = HttpRequest.newBuilder(URI.create(url))
                    .timeout(callTimeout)
                    .header("Content-Type", "application/json")
                    .header(HttpStage.IDEMPOTENCY_KEY, idempotencyKey)
                    .POST(HttpRequest.BodyPublishers.ofString(body.toString()))
                    .build();
            return client.sendAsync(request, HttpResponse.BodyHandlers.ofString()).thenApply(response -> {
                int code = response.statusCode();
                if (code >= 200 && code < 300) {
                    try {
                        return JSON.readTree(response.body());
                    } catch (IOException e) {
                        throw new CompletionException(new IOException(idempotencyKey + ": unreadable 2xx response", e));
                    }
                }
                String what = idempotencyKey + ": HTTP " + code;
                if (code == 409 || code == 429 || code >= 500) {
                    throw new CompletionException(new IOException(what));
                }
                throw new PermanentCallFailure(what);
            });
        }

        /**
         * The operator's timeout covers the whole retry budget and more ({@link Settings#operatorTimeout()});
         * should it fire anyway, the payment is counted as failed instead of failing the job.
         */
        @Override
        public void timeout(String value, ResultFuture<Outcome> result) {
            String id = "?";
            try {
                id = JSON.readTree(value).path("id").asText("?");
            } catch (IOException e) {
                // keep "?": the outcome is only counted
            }
            result.complete(List.of(Outcome.failed(id, "", false, "async operator timeout")));
        }

        @Override
        public void close() {
            client = null;
        }
    }

    /** A definitive rejection (4xx other than 409 and 429): retrying cannot help. */
    static final class PermanentCallFailure extends RuntimeException {
        private static final long serialVersionUID = 1L;

        PermanentCallFailure(String message) {
            super(message);
        }
    }

    /** Passes completed payments; counts and drops the others (no DLQ in this baseline). */
    static final class CompletedOnly extends RichFilterFunction<Outcome> {
        private static final long serialVersionUID = 1L;

        private transient Counter failedRetryable;
        private transient Counter failedPermanent;

        @Override
        public void open(OpenContext openContext) {
            failedRetryable = getRuntimeContext().getMetricGroup().addGroup("inline").addGroup("failed").counter("retryable");
            failedPermanent = getRuntimeContext().getMetricGroup().addGroup("inline").addGroup("failed").counter("permanent");
        }

        @Override
        public boolean filter(Outcome outcome) {
            if (outcome.completed) {
                return true;
            }
            (outcome.retryable ? failedRetryable : failedPermanent).inc();
            return false;
        }
    }
}
