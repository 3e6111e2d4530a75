package io.stagewise.jobs;

import io.stagewise.jobs.sandbox.Directories;
import io.stagewise.jobs.sandbox.EmbeddedKafka;
import io.stagewise.jobs.sandbox.EmbeddedPostgres;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * One real Kafka broker, one real PostgreSQL and a scratch directory for a test class:
 * {@code @RegisterExtension static final Sandbox SANDBOX = new Sandbox();}
 */
final class Sandbox implements BeforeAllCallback, AfterAllCallback {
    private Path dir;
    private EmbeddedKafka kafka;
    private EmbeddedPostgres postgres;

    @Override
    public void beforeAll(ExtensionContext context) throws IOException {
        dir = Files.createTempDirectory("stagewise-it-");
        kafka = EmbeddedKafka.start(dir.resolve("kafka"));
        postgres = EmbeddedPostgres.start(dir.resolve("postgres"));
    }

    @Override
    public void afterAll(ExtensionContext context) throws IOException {
        try {
            if (kafka != null) {
                kafka.close();
            }
        } finally {
            if (postgres != null) {
                postgres.close();
            }
            Directories.deleteRecursively(dir);
        }
    }

    EmbeddedKafka kafka() {
        return kafka;
    }

    EmbeddedPostgres postgres() {
        return postgres;
    }

    /** A scratch directory for checkpoints and the like, deleted after the class. */
    Path dir() {
        return dir;
    }
}
