package io.stagewise.gateway;

import io.stagewise.testkit.EmbeddedPostgres;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;

/**
 * The gateway ITCases' fixture: one real PostgreSQL per test class, a fresh gateway per test
 * ({@link #start}), stopped after it. Tests of one class use disjoint keys and ids.
 */
abstract class GatewayFixture {
    @TempDir
    static Path tempDir;

    static EmbeddedPostgres postgres;

    GatewayServer gateway;
    GatewayClient client;

    @BeforeAll
    static void startPostgres() {
        postgres = EmbeddedPostgres.start(tempDir.resolve("postgres"));
    }

    @AfterAll
    static void stopPostgres() {
        if (postgres != null) {
            postgres.close();
            postgres = null;
        }
    }

    @AfterEach
    void stopGateway() {
        if (gateway != null) {
            gateway.close();
            gateway = null;
        }
    }

    void start(GatewaySettings.Builder settings) {
        gateway = GatewayServer.start(settings.build(), postgres.jdbcUrl());
        client = new GatewayClient(gateway.url());
    }
}
