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

    public static StreamExecutionEnvironment withDashboard(Configuration conf, int port) {
        checkPortFree(port);
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

    private static void checkPortFree(int port) {
        try (ServerSocket socket = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
            socket.setReuseAddress(true);
        } catch (IOException e) {
            throw new StagewiseException("the dashboard port " + port
                    + " is in use; choose another with --dashboard-port");
        }
    }
}
