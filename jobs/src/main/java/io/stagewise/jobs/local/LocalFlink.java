package io.stagewise.jobs.local;

import org.apache.flink.annotation.Internal;
import io.stagewise.jobs.StagewiseException;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.MetricOptions;
import org.apache.flink.configuration.RestOptions;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

/** A Flink mini cluster in this JVM, with the web dashboard on a chosen port. */
@Internal
public final class LocalFlink {
    private LocalFlink() {}

    /** Flink's keys of the reporter named {@code prom}, as in flink-conf/config.yaml. */
    static final String PROMETHEUS_KEYS = "metrics.reporter.prom.";
    static final String PROMETHEUS_FACTORY = "org.apache.flink.metrics.prometheus.PrometheusReporterFactory";

    public static StreamExecutionEnvironment withDashboard(Configuration conf, int port) {
        checkPortFree(port, "the dashboard port", "--dashboard-port");
        conf.set(RestOptions.BIND_ADDRESS, "127.0.0.1");
        conf.set(RestOptions.ADDRESS, "127.0.0.1");
        conf.set(RestOptions.PORT, port);
        // Fresh metrics for the live progress line and the dashboard.
        conf.set(MetricOptions.METRIC_FETCHER_UPDATE_INTERVAL, Duration.ofSeconds(1));
        return StreamExecutionEnvironment.createLocalEnvironmentWithWebUI(conf);
    }

    public static String dashboardUrl(int port) {
        return "http://127.0.0.1:" + port;
    }

    /**
     * Exposes every metric of the mini cluster (job, operators, the {@code stagewise} group) at
     * {@code http://<host>:<port>/metrics} in Prometheus' text format, through Flink's own
     * Prometheus reporter configured as a cluster would configure it
     * ({@code metrics.reporter.prom.factory.class}, {@code metrics.reporter.prom.port}). Refuses a
     * port in use. Call before creating the environment.
     */
    public static void withPrometheus(Configuration conf, int port) {
        if (port < 1 || port > 65535) {
            throw new StagewiseException("--prometheus-port must be in 1..65535, got " + port);
        }
        checkPortFree(port, "the Prometheus port", "--prometheus-port");
        conf.setString(PROMETHEUS_KEYS + "factory.class", PROMETHEUS_FACTORY);
        conf.setString(PROMETHEUS_KEYS + "port", Integer.toString(port));
    }

    public static String prometheusUrl(int port) {
        return "http://127.0.0.1:" + port + "/metrics";
    }

    private static void checkPortFree(int port, String what, String flag) {
        try (ServerSocket socket = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
            socket.setReuseAddress(true);
        } catch (IOException e) {
            throw new StagewiseException(what + " " + port + " is in use; choose another with " + flag);
        }
    }
}
