package io.stagewise.operators.stage.http;

import java.net.URI;
import java.net.http.HttpClient;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.flink.annotation.Internal;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP client of the remote stages (with the URL check and request timeout both use), and the
 * one JVM setting it needs on small machines.
 *
 * <p>The JDK client's {@code sendAsync} hands every response to CompletableFuture's default
 * executor, the common ForkJoin pool. A JVM with 2 or fewer CPUs sizes that pool at 1, and
 * CompletableFuture then starts a new thread for every task: a thread per call, created and torn
 * down (measured: 202 threads for 200 calls; in {@code bench stages} (b), a quarter of the CPU of the
 * JVM's threads).
 * A common pool parallelism of at least 2 makes it a pool again: the launcher sets it
 * ({@link #raiseCommonPoolFloor()}), a cluster sets it in {@code env.java.opts.taskmanager}
 * (flink-conf/config.yaml), and a stage that opens without it logs a warning naming the setting.
 */
@Internal
public final class HttpClients {
    /** The JVM property the common pool reads once, when it is first used. */
    public static final String COMMON_POOL_PARALLELISM = "java.util.concurrent.ForkJoinPool.common.parallelism";
    private static final Logger LOG = LoggerFactory.getLogger(HttpClients.class);
    private static final AtomicBoolean WARNED = new AtomicBoolean();

    private HttpClients() {
    }

    /**
     * Sizes the common pool at the JVM's default (CPUs - 1) but at least 2, unless
     * {@value #COMMON_POOL_PARALLELISM} is set. Call it first thing in {@code main}: the pool reads
     * the property once, and a pool already in use keeps its size (then this logs why).
     */
    public static void raiseCommonPoolFloor() {
        if (System.getProperty(COMMON_POOL_PARALLELISM) == null) {
            int parallelism = Math.max(2, Runtime.getRuntime().availableProcessors() - 1);
            System.setProperty(COMMON_POOL_PARALLELISM, String.valueOf(parallelism));
        }
        warnIfThreadPerResponse();
    }

    /** {@code url} parsed; an {@link IllegalArgumentException} unless it is an http(s) URL. */
    static URI httpUri(String url) {
        URI uri = URI.create(url);
        if (uri.getScheme() == null || !(uri.getScheme().equals("http") || uri.getScheme().equals("https"))) {
            throw new IllegalArgumentException("not an http(s) URL: " + url);
        }
        return uri;
    }

    /** A request timeout that ends at {@code deadline}: at least 1 ms, as the client needs a positive one. */
    static Duration timeoutUntil(Instant deadline) {
        Duration timeout = Duration.between(Instant.now(), deadline);
        return timeout.isNegative() || timeout.isZero() ? Duration.ofMillis(1) : timeout;
    }

    /** A client for one stage of one subtask: HTTP/1.1 (one request per connection at a time), 5 s to connect. */
    static HttpClient newClient() {
        warnIfThreadPerResponse();
        return HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5))
                .build();
    }

    private static void warnIfThreadPerResponse() {
        if (ForkJoinPool.getCommonPoolParallelism() < 2 && WARNED.compareAndSet(false, true)) {
            LOG.warn("The common ForkJoin pool has parallelism {} ({} CPUs): the JDK HTTP client of the remote stages"
                            + " then starts a new thread for every response. Set -D{}=2 in the JVM options"
                            + " (env.java.opts.taskmanager on a cluster; flink-conf/config.yaml has it).",
                    ForkJoinPool.getCommonPoolParallelism(), Runtime.getRuntime().availableProcessors(),
                    COMMON_POOL_PARALLELISM);
        }
    }
}
