package io.stagewise.sinks.postgres.internal;

import java.io.IOException;
import org.apache.flink.annotation.Internal;
import org.apache.flink.annotation.VisibleForTesting;

/**
 * Named points of the sink's protocol where a test can inject a crash. In production no hook is
 * installed and every call is a volatile read. Only tests install hooks (MiniCluster runs the job
 * in the test's JVM, so a static hook reaches every subtask).
 */
@Internal
public final class FaultInjection {

    /** The protocol points, in the order one checkpoint passes them. */
    public enum Point {
        /** Writer, inside the checkpoint's transaction: rows and marker written, not yet prepared. */
        BEFORE_PREPARE,
        /** Writer: PREPARE TRANSACTION succeeded, the committable not yet handed to Flink. */
        AFTER_PREPARE,
        /** Committer: checkpoint complete, COMMIT PREPARED not yet sent. */
        BEFORE_COMMIT,
        /** Committer: COMMIT PREPARED succeeded for this subtask's transaction. */
        AFTER_COMMIT
    }

    /** Where a hook is called from. */
    public record Site(Point point, String sink, int subtask, long checkpointId, int attempt) {}

    /** Throws to inject a failure at a site. */
    @FunctionalInterface
    public interface Hook {
        void at(Site site) throws Exception;
    }

    private static final Hook NONE = site -> { };

    private static volatile Hook hook = NONE;

    private FaultInjection() {}

    static void at(Point point, String sink, int subtask, long checkpointId, int attempt) throws IOException {
        Hook current = hook;
        if (current == NONE) {
            return;
        }
        try {
            current.at(new Site(point, sink, subtask, checkpointId, attempt));
        } catch (RuntimeException | IOException e) {
            throw e;
        } catch (Exception e) {
            throw new IOException(e);
        }
    }

    /** Installs {@code testHook} until the returned handle is closed. Tests only. */
    @VisibleForTesting
    public static AutoCloseable installForTest(Hook testHook) {
        hook = testHook;
        return () -> hook = NONE;
    }
}
