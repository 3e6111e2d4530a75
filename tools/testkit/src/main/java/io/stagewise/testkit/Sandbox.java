package io.stagewise.testkit;

import io.stagewise.testkit.Directories;
import io.stagewise.testkit.EmbeddedKafka;
import io.stagewise.testkit.EmbeddedPostgres;
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
public final class Sandbox implements BeforeAllCallback, AfterAllCallback {
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

    public EmbeddedKafka kafka() {
        return kafka;
    }

    public EmbeddedPostgres postgres() {
        return postgres;
    }

    /** A scratch directory for checkpoints and the like, deleted after the class. */
    public Path dir() {
        return dir;
    }
}
