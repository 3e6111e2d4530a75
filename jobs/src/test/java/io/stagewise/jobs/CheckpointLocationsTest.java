package io.stagewise.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import io.stagewise.savepoints.Checkpoints;
import java.io.File;
import java.util.Optional;
import org.apache.flink.core.fs.FileSystem;
import org.apache.flink.core.fs.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Checkpoint locations go through Flink's filesystem layer: the directory {@code --restore latest}
 * lists is the one Flink writes to for the same {@code --checkpoint-dir}, for an explicit
 * {@code file://} URI with {@code %20} in it and for a bare local path.
 */
class CheckpointLocationsTest {
    @TempDir
    File tmp;

    /** Writes {@code <dir>/<job>/chk-<n>/_metadata} where Flink's filesystem puts {@code location}. */
    private static void writeCheckpoint(String location, String job, int n) throws Exception {
        Path chk = new Path(location + "/" + job + "/chk-" + n);
        FileSystem fs = chk.getFileSystem();
        fs.mkdirs(chk);
        try (var out = fs.create(new Path(chk, "_metadata"), FileSystem.WriteMode.OVERWRITE)) {
            out.write(1);
        }
    }

    @Test
    void anExplicitFileUriWithPercentTwentyIsListedWhereFlinkWroteIt() throws Exception {
        String uri = "file://" + tmp.getAbsolutePath() + "/dir%20x";
        assertThat(FlinkSettings.checkpointUri(uri)).isEqualTo(uri);
        writeCheckpoint(uri, "job-a", 3);
        writeCheckpoint(uri, "job-b", 9);

        Optional<Checkpoints.Retained> latest = Checkpoints.latest(uri);
        assertThat(latest).isPresent();
        assertThat(latest.get().checkpointId()).isIn(3L, 9L);
        assertThat(latest.get().location()).contains("dir%20x").endsWith("/chk-" + latest.get().checkpointId());
        // Nothing under the working directory: the URI was never taken for a relative local path.
        assertThat(new File("file:")).doesNotExist();
    }

    @Test
    void aBarePathWithPercentTwentyAndSpacesIsALocalDirectory() throws Exception {
        File dir = new File(tmp, "a%20b c");
        String uri = FlinkSettings.checkpointUri(dir.getPath());
        assertThat(uri).startsWith("file:/");
        writeCheckpoint(uri, "job", 4);
        assertThat(new File(dir, "job/chk-4/_metadata")).isFile();
        assertThat(Checkpoints.latest(uri).map(Checkpoints.Retained::checkpointId)).contains(4L);
        assertThat(Checkpoints.latest(dir.toPath()).map(Checkpoints.Retained::checkpointId)).contains(4L);
    }

    @Test
    void aMissingDirectoryHasNoCheckpoint() {
        assertThat(Checkpoints.latest("file://" + tmp.getAbsolutePath() + "/never-written")).isEmpty();
    }
}
