package io.stagewise.sinks.postgres.internal;

import org.apache.flink.annotation.Internal;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.flink.api.common.JobID;

/**
 * Global transaction ids of one sink: {@code <prefix>-<lineage>-<subtask>-<checkpoint id>}.
 * Deterministic, so a restarted writer can find and roll back what an earlier attempt prepared, and
 * a committer can tell "already committed" from "never prepared" through the commit marker.
 *
 * <p>The lineage ({@code r} and 12 hex digits of the job id) names the job run (one submission,
 * with all its attempts) that prepared the transaction. Checkpoint ids start at 1 again on a fresh
 * run, so without it a fresh run would collide with an earlier run's marker rows, and would take an
 * earlier run's prepared transactions for its own. Gids of versions before the lineage,
 * {@code <prefix>-<subtask>-<checkpoint id>}, still parse, with the lineage {@link #LEGACY}.
 *
 * <p>The prefix may contain {@code -}; parsing is anchored on the exact prefix and the fixed shapes
 * of the other fields, so the ids of prefixes {@code pay} and {@code pay-1} can never be confused.
 */
@Internal
public final class Gids {
    /** Letters, digits, dot, dash, underscore: safe inside a quoted SQL literal and in log lines. */
    public static final Pattern SAFE_PREFIX = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,149}");

    /** A whole gid: same characters; PostgreSQL allows up to 199 bytes. */
    public static final Pattern SAFE_GID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,198}");

    /** The lineage of gids written before lineages existed. */
    public static final String LEGACY = "";

    private static final String LINEAGE = "r[0-9a-f]{12}";

    private final String prefix;
    private final Pattern pattern;
    private final Pattern legacyPattern;

    public Gids(String prefix) {
        if (prefix == null || !SAFE_PREFIX.matcher(prefix).matches()) {
            throw new IllegalArgumentException("transaction id prefix '" + prefix + "' must match " + SAFE_PREFIX.pattern());
        }
        this.prefix = prefix;
        this.pattern = Pattern.compile(Pattern.quote(prefix) + "-(" + LINEAGE + ")-(\\d{1,9})-(\\d{1,19})");
        this.legacyPattern = Pattern.compile(Pattern.quote(prefix) + "-(\\d{1,9})-(\\d{1,19})");
    }

    /** The lineage of a job run: the same for every subtask and attempt of one submission. */
    public static String lineageOf(JobID jobId) {
        return "r" + jobId.toHexString().substring(0, 12);
    }

    public static boolean isLineage(String lineage) {
        return lineage != null && lineage.matches(LINEAGE);
    }

    public String prefix() {
        return prefix;
    }

    public String gid(String lineage, int subtask, long checkpointId) {
        if (!isLineage(lineage)) {
            throw new IllegalArgumentException("not a lineage: '" + lineage + "'");
        }
        return prefix + '-' + lineage + '-' + subtask + '-' + checkpointId;
    }

    /**
     * The marker gid of restored carried-over rows (never a prepared transaction's gid: the
     * suffix keeps it out of {@link #parse}). {@code origin} is {@link PostgresWriterState#origin()}.
     */
    public String carriedGid(String origin) {
        String gid = prefix + '-' + origin + "-c";
        if (!SAFE_GID.matcher(gid).matches()) {
            throw new IllegalArgumentException("unsafe carried-rows gid " + gid);
        }
        return gid;
    }

    /** The lineage, subtask and checkpoint id of {@code gid}, if it is one of this sink's ids. */
    public Optional<Parsed> parse(String gid) {
        try {
            Matcher m = pattern.matcher(gid);
            if (m.matches()) {
                return Optional.of(new Parsed(gid, m.group(1), Integer.parseInt(m.group(2)), Long.parseLong(m.group(3))));
            }
            Matcher legacy = legacyPattern.matcher(gid);
            if (legacy.matches()) {
                return Optional.of(new Parsed(gid, LEGACY, Integer.parseInt(legacy.group(1)), Long.parseLong(legacy.group(2))));
            }
            return Optional.empty();
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }

    /** A gid of this sink, split into its parts. */
    public record Parsed(String gid, String lineage, int subtask, long checkpointId) {}
}
