package io.stagewise.cli.dlq;

import io.stagewise.jobs.StagewiseException;
import io.stagewise.operators.event.FailureReason;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.EnumSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Which dead letters a {@code dlq list} or {@code dlq replay} applies to: event ids, failure reasons,
 * failed stages and a time range on {@code stagewise.failure.at} ({@code since} inclusive,
 * {@code until} exclusive). Filters combine with AND; the values of one filter with OR. A record
 * without the header a filter looks at does not match that filter.
 */
public final class Selection {
    private static final String REASONS = Arrays.stream(FailureReason.values())
            .map(FailureReason::headerValue).collect(Collectors.joining(", "));

    private final Set<String> ids;
    private final Set<FailureReason> reasons;
    private final Set<String> stages;
    private final Instant since;
    private final Instant until;
    private final boolean all;

    private Selection(Builder b) {
        this.ids = Collections.unmodifiableSet(new LinkedHashSet<>(b.ids));
        this.reasons = b.reasons.isEmpty() ? Set.of() : Collections.unmodifiableSet(EnumSet.copyOf(b.reasons));
        this.stages = Collections.unmodifiableSet(new LinkedHashSet<>(b.stages));
        this.since = b.since;
        this.until = b.until;
        this.all = b.all;
    }

    public static Builder builder(Instant now) {
        return new Builder(now);
    }

    /** Every dead letter. */
    public static Selection everything(Instant now) {
        return builder(now).all(true).build();
    }

    public boolean matches(DeadLetterRecord letter) {
        if (!ids.isEmpty() && !ids.contains(letter.eventId())) {
            return false;
        }
        if (!reasons.isEmpty() && !letter.reason().map(reasons::contains).orElse(false)) {
            return false;
        }
        if (!stages.isEmpty() && !stages.contains(letter.stage())) {
            return false;
        }
        if (since != null || until != null) {
            Optional<Long> at = letter.failureAt();
            if (at.isEmpty()) {
                return false;
            }
            if (since != null && at.get() < since.toEpochMilli()) {
                return false;
            }
            if (until != null && at.get() >= until.toEpochMilli()) {
                return false;
            }
        }
        return true;
    }

    /** True when no filter was given and {@code --all} was not either: {@code replay} refuses to run. */
    public boolean isUnspecified() {
        return !all && !hasFilters();
    }

    public boolean hasFilters() {
        return !ids.isEmpty() || !reasons.isEmpty() || !stages.isEmpty() || since != null || until != null;
    }

    public Set<String> ids() {
        return ids;
    }

    public Set<FailureReason> reasons() {
        return reasons;
    }

    public Set<String> stages() {
        return stages;
    }

    public Optional<Instant> since() {
        return Optional.ofNullable(since);
    }

    public Optional<Instant> until() {
        return Optional.ofNullable(until);
    }

    /** The filters in words, for output: {@code reason in [permanent], since 2026-11-27T16:00:00Z}. */
    public String describe() {
        List<String> parts = new ArrayList<>();
        if (!ids.isEmpty()) {
            parts.add("id in " + ids);
        }
        if (!reasons.isEmpty()) {
            parts.add("reason in " + reasons.stream().map(FailureReason::headerValue).collect(Collectors.toList()));
        }
        if (!stages.isEmpty()) {
            parts.add("stage in " + stages);
        }
        if (since != null) {
            parts.add("failed at or after " + since);
        }
        if (until != null) {
            parts.add("failed before " + until);
        }
        return parts.isEmpty() ? "all dead letters" : String.join(", ", parts);
    }

    @Override
    public String toString() {
        return describe();
    }

    /** Collects and validates the flags; {@link #build()} refuses an empty or inverted time range. */
    public static final class Builder {
        private final Instant now;
        private final Set<String> ids = new LinkedHashSet<>();
        private final Set<FailureReason> reasons = new LinkedHashSet<>();
        private final Set<String> stages = new LinkedHashSet<>();
        private Instant since;
        private Instant until;
        private String sinceText;
        private String untilText;
        private boolean all;

        private Builder(Instant now) {
            this.now = now;
        }

        /** Event ids; each value may itself be a comma list. Blank entries are refused. */
        public Builder ids(Collection<String> values) {
            ids.addAll(split("--ids", values));
            return this;
        }

        /** Reasons by header value ({@code malformed, permanent, exhausted, error}), case-insensitive. */
        public Builder reasons(Collection<String> values) {
            for (String value : split("--reason", values)) {
                try {
                    reasons.add(FailureReason.fromHeaderValue(value.toLowerCase(Locale.ROOT)));
                } catch (IllegalArgumentException e) {
                    throw new StagewiseException("unknown --reason '" + value + "'; use " + REASONS);
                }
            }
            return this;
        }

        public Builder stages(Collection<String> values) {
            stages.addAll(split("--stage", values));
            return this;
        }

        public Builder since(String text) {
            if (text != null) {
                since = TimeBound.parse("--since", text, now);
                sinceText = text;
            }
            return this;
        }

        public Builder until(String text) {
            if (text != null) {
                until = TimeBound.parse("--until", text, now);
                untilText = text;
            }
            return this;
        }

        public Builder all(boolean value) {
            all = value;
            return this;
        }

        public Selection build() {
            if (since != null && until != null && !since.isBefore(until)) {
                throw new StagewiseException("--since " + sinceText + " (" + since + ") must be before --until "
                        + untilText + " (" + until + "): the time range is empty");
            }
            if (all && (!ids.isEmpty() || !reasons.isEmpty() || !stages.isEmpty() || since != null || until != null)) {
                throw new StagewiseException("--all selects every dead letter; leave it out when filtering with"
                        + " --ids, --reason, --stage, --since or --until");
            }
            return new Selection(this);
        }

        private static List<String> split(String flag, Collection<String> values) {
            List<String> out = new ArrayList<>();
            if (values == null) {
                return out;
            }
            for (String value : values) {
                for (String part : value.split(",", -1)) {
                    String trimmed = part.trim();
                    if (trimmed.isEmpty()) {
                        throw new StagewiseException(flag + " has an empty value in '" + value + "'");
                    }
                    out.add(trimmed);
                }
            }
            return out;
        }
    }
}
