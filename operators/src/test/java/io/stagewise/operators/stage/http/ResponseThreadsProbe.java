package io.stagewise.operators.stage.http;

import com.sun.net.httpserver.HttpServer;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;

/**
 * Run in a child JVM by {@link HttpClientsTest}: answers {@code calls} requests of the remote
 * stages' HTTP client from a local server and prints how many threads the JVM started meanwhile
 * ({@code started=N}). Argument 1: whether to call {@link HttpClients#raiseCommonPoolFloor()}
 * first, as the launcher does.
 */
public final class ResponseThreadsProbe {
    public static void main(String[] args) throws Exception {
        if (Boolean.parseBoolean(args[0])) {
            HttpClients.raiseCommonPoolFloor();
        }
        int calls = Integer.parseInt(args[1]);
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/", exchange -> {
            exchange.getRequestBody().readAllBytes();
            exchange.sendResponseHeaders(200, -1);
            exchange.close();
        });
        server.start();
        try {
            HttpClient client = HttpClients.newClient();
            URI uri = URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/");
            HttpRequest request = HttpRequest.newBuilder(uri).POST(HttpRequest.BodyPublishers.ofString("{}")).build();
            // warm up: the client's selector and worker threads, the server's dispatcher
            client.sendAsync(request, HttpResponse.BodyHandlers.ofString()).thenApply(HttpResponse::statusCode).join();
            ThreadMXBean threads = ManagementFactory.getThreadMXBean();
            long before = threads.getTotalStartedThreadCount();
            for (int i = 0; i < calls; i++) {
                client.sendAsync(request, HttpResponse.BodyHandlers.ofString()).thenApply(HttpResponse::statusCode).join();
            }
            System.out.println("started=" + (threads.getTotalStartedThreadCount() - before));
        } finally {
            server.stop(0);
        }
    }
}
