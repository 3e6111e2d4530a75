package io.stagewise.sinks.postgres.internal;

import org.apache.flink.annotation.Internal;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Global transaction ids of one sink: {@code <prefix>-<subtask>-<checkpoint id>}. Deterministic,
 * so a restarted writer can find and roll back what an earlier attempt prepared, and a committer
 * can tell "already committed" from "never prepared" through the commit marker.
 *
 * <p>The prefix may contain {@code -}; parsing is anchored on the exact prefix and two all-digit
 * fields, so the ids of prefixes {@code pay} and {@code pay-1} can never be confused.
 */
@Internal
public final class Gids {
    /** Letters, digits, dot, dash, underscore: safe inside a quoted SQL literal and in log lines. */
    public static final Pattern SAFE_PREFIX = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,149}");

    /** A whole gid: same characters; PostgreSQL allows up to 199 bytes. */
    public static final Pattern SAFE_GID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,198}");

    private final String prefix;
    private final Pattern pattern;

    public Gids(String prefix) {
        if (prefix == null || !SAFE_PREFIX.matcher(prefix).matches()) {
            throw new IllegalArgumentException("transaction id prefix '" + prefix + "' must match " + SAFE_PREFIX.pattern());
        }
        this.prefix = prefix;
        this.pattern = Pattern.compile(Pattern.quote(prefix) + "-(\\d{1,9})-(\\d{1,19})");
    }

    public String prefix() {
        return prefix;
    }

    public String gid(int subtask, long checkpointId) {
        return prefix + '-' + subtask + '-' + checkpointId;
    }

    /** The subtask and checkpoint id of {@code gid}, if it is one of this sink's ids. */
    public Optional<Parsed> parse(String gid) {
        Matcher m = pattern.matcher(gid);
        if (!m.matches()) {
            return Optional.empty();
        }
        try {
            return Optional.of(new Parsed(gid, Integer.parseInt(m.group(1)), Long.parseLong(m.group(2))));
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }

    /** A gid of this sink, split into its parts. */
    public record Parsed(String gid, int subtask, long checkpointId) {}
}
