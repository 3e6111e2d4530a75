package io.stagewise.savepoints;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.Comparator;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Finds retained checkpoints in a checkpoint directory laid out by Flink as
 * {@code <dir>/<job id>/chk-<n>/_metadata}. Only checkpoints whose {@code _metadata} exists are
 * complete; a checkpoint still being written has no metadata file yet.
 */
public final class Checkpoints {
    private static final Pattern CHECKPOINT_DIR = Pattern.compile("chk-(\\d+)");

    private Checkpoints() {}

    /** A complete checkpoint: its directory (the path to restore from), id and completion time. */
    public record Retained(Path path, long checkpointId, FileTime completedAt) {}

    /**
     * The newest complete checkpoint under {@code checkpointDir}, across every job that wrote there
     * (a restarted job gets a new job id and numbers its checkpoints from its restored one on).
     */
    public static Optional<Retained> latest(Path checkpointDir) {
        if (!Files.isDirectory(checkpointDir)) {
            return Optional.empty();
        }
        try (Stream<Path> metadata = Files.find(checkpointDir, 3,
                (path, attrs) -> attrs.isRegularFile() && path.getFileName().toString().equals("_metadata"))) {
            return metadata
                    .map(Checkpoints::retained)
                    .flatMap(Optional::stream)
                    .max(Comparator.comparing(Retained::completedAt).thenComparingLong(Retained::checkpointId));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list checkpoints in " + checkpointDir, e);
        }
    }

    private static Optional<Retained> retained(Path metadata) {
        Path dir = metadata.getParent();
        Matcher m = CHECKPOINT_DIR.matcher(dir.getFileName().toString());
        if (!m.matches()) {
            return Optional.empty();
        }
        try {
            return Optional.of(new Retained(dir, Long.parseLong(m.group(1)), Files.getLastModifiedTime(metadata)));
        } catch (IOException e) {
            // Deleted between listing and reading: Flink discarded a subsumed checkpoint.
            return Optional.empty();
        }
    }
}
