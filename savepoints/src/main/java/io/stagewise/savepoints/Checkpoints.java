package io.stagewise.savepoints;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.attribute.FileTime;
import java.util.Comparator;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.flink.annotation.PublicEvolving;
import org.apache.flink.core.fs.FileStatus;
import org.apache.flink.core.fs.FileSystem;
import org.apache.flink.core.fs.Path;

/**
 * Finds retained checkpoints in a checkpoint directory laid out by Flink as
 * {@code <dir>/<job id>/chk-<n>/_metadata}, through Flink's {@link FileSystem} API, so the
 * directory may be any Flink filesystem URI ({@code file://}, {@code s3://}, {@code hdfs://}; the
 * scheme's plugin must be on the classpath). Only checkpoints whose {@code _metadata} exists are
 * complete; a checkpoint still being written has no metadata file yet.
 */
@PublicEvolving
public final class Checkpoints {
    private static final Pattern CHECKPOINT_DIR = Pattern.compile("chk-(\\d+)");
    private static final String METADATA = "_metadata";

    private Checkpoints() {}

    /** A complete checkpoint: its location (the path or URI to restore from), id and completion time. */
    public record Retained(String location, long checkpointId, FileTime completedAt) {}

    /** As {@link #latest(String)} for a local directory. */
    public static Optional<Retained> latest(java.nio.file.Path checkpointDir) {
        // Flink's own form of a local file; toUri() would escape '%' and ' ', which Flink's Path keeps literally.
        return latest("file:" + checkpointDir.toAbsolutePath().normalize());
    }

    /**
     * The newest complete checkpoint under {@code checkpointDir} (a Flink filesystem URI, or a
     * local path), across every job that wrote there (a restarted job gets a new job id and
     * numbers its checkpoints from its restored one on).
     */
    public static Optional<Retained> latest(String checkpointDir) {
        Path dir = new Path(checkpointDir);
        try {
            FileSystem fs = dir.getFileSystem();
            return Stream.of(list(fs, dir))
                    .filter(FileStatus::isDir)
                    .flatMap(job -> Stream.of(list(fs, job.getPath())))
                    .map(chk -> retained(fs, chk))
                    .flatMap(Optional::stream)
                    .max(Comparator.comparing(Retained::completedAt).thenComparingLong(Retained::checkpointId));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list checkpoints in " + checkpointDir
                    + " (is the filesystem's plugin installed and configured?)", e);
        }
    }

    private static FileStatus[] list(FileSystem fs, Path dir) {
        try {
            FileStatus[] children = fs.listStatus(dir);
            return children == null ? new FileStatus[0] : children;
        } catch (FileNotFoundException e) {
            return new FileStatus[0];
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir, e);
        }
    }

    private static Optional<Retained> retained(FileSystem fs, FileStatus chk) {
        Matcher m = CHECKPOINT_DIR.matcher(chk.getPath().getName());
        if (!chk.isDir() || !m.matches()) {
            return Optional.empty();
        }
        try {
            FileStatus metadata = fs.getFileStatus(new Path(chk.getPath(), METADATA));
            return Optional.of(new Retained(chk.getPath().toString(), Long.parseLong(m.group(1)),
                    FileTime.fromMillis(metadata.getModificationTime())));
        } catch (FileNotFoundException e) {
            // Still being written, or discarded between listing and reading (a subsumed checkpoint).
            return Optional.empty();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + chk.getPath() + "/" + METADATA, e);
        }
    }
}
