package io.stagewise.operators.dedup;

import org.apache.flink.annotation.PublicEvolving;

/**
 * The dedup rule of docs/state-and-dedup.md (a contract): a re-delivered event whose id is
 * {@code COMPLETED} or {@code IN_PROGRESS} is dropped; a {@code DEAD_LETTERED} one is dropped
 * unless it is a replay (carries {@code stagewise.replay-of}); an unknown id is admitted.
 */
@PublicEvolving
public final class DedupRule {
    private DedupRule() {}

    /** True when an event with this recorded status (null: never seen) must be processed. */
    public static boolean admit(EventStatus recorded, boolean isReplay) {
        if (recorded == null) {
            return true;
        }
        switch (recorded) {
            case IN_PROGRESS:
            case COMPLETED:
                return false;
            case DEAD_LETTERED:
                return isReplay;
            default:
                throw new IllegalStateException("unknown status " + recorded);
        }
    }
}
