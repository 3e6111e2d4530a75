package io.stagewise.cli.dlq;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * Which of the selected dead letters a replay writes, and why it leaves the others out:
 * <ol>
 *   <li>{@link Skip#MALFORMED}: unparsable input fails again at ingest, unless
 *       {@code --include-malformed};
 *   <li>{@link Skip#SUPERSEDED}: the same event has a later dead letter (it failed again after a
 *       replay); only the latest carries the current progress and idempotency key generation, and
 *       replaying an older one would only fail again against a stored rejection;
 *   <li>{@link Skip#INCOMPLETE}: headers missing or unparsable (event id, origin, progress), so a
 *       replay would lose the event's identity or progress; {@code dlq show} tells what is wrong.
 * </ol>
 * Records to replay are ordered by failure time, then DLQ coordinates.
 */
public final class ReplayPlan {
    /** Why a selected dead letter is not replayed. */
    public enum Skip {
        MALFORMED, SUPERSEDED, INCOMPLETE
    }

    private final List<DeadLetterRecord> toReplay;
    private final Map<Skip, List<DeadLetterRecord>> skipped;

    private ReplayPlan(List<DeadLetterRecord> toReplay, Map<Skip, List<DeadLetterRecord>> skipped) {
        this.toReplay = Collections.unmodifiableList(toReplay);
        this.skipped = Collections.unmodifiableMap(skipped);
    }

    /** @param scan a read of the DLQ whose kept records are the selection */
    public static ReplayPlan of(DeadLetterReader.Scan scan, boolean includeMalformed) {
        List<DeadLetterRecord> replay = new ArrayList<>();
        Map<Skip, List<DeadLetterRecord>> skipped = new EnumMap<>(Skip.class);
        for (Skip skip : Skip.values()) {
            skipped.put(skip, new ArrayList<>());
        }
        for (DeadLetterRecord letter : scan.kept()) {
            if (letter.isMalformed() && !includeMalformed) {
                skipped.get(Skip.MALFORMED).add(letter);
            } else if (!letter.replayProblems().isEmpty()) {
                skipped.get(Skip.INCOMPLETE).add(letter);
            } else if (!scan.isLatest(letter)) {
                skipped.get(Skip.SUPERSEDED).add(letter);
            } else {
                replay.add(letter);
            }
        }
        replay.sort(Comparator.comparing((DeadLetterRecord l) -> l.failureAt().orElse(l.timestamp()))
                .thenComparing(DeadLetterRecord::partition)
                .thenComparing(DeadLetterRecord::offset));
        return new ReplayPlan(replay, skipped);
    }

    public List<DeadLetterRecord> toReplay() {
        return toReplay;
    }

    public List<DeadLetterRecord> skipped(Skip why) {
        return skipped.get(why);
    }

    public int skippedTotal() {
        return skipped.values().stream().mapToInt(List::size).sum();
    }
}
