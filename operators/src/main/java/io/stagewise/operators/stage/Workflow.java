package io.stagewise.operators.stage;

import org.apache.flink.annotation.PublicEvolving;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * An ordered list of named stages an event goes through. Each completed stage is recorded (name,
 * output, attempts) in keyed state and in the progress that travels with retries and dead
 * letters, so a retry, a replay or a restore runs only the stages not yet done.
 *
 * <pre>{@code
 * Workflow payments = Workflow.named("payments")
 *         .local("validate", ctx -> validate(ctx.payload()))
 *         .remote("charge", new HttpStage(gatewayUrl + "/charges", ChargeRequest::of))
 *         .batched("notify", new HttpBatchCall(gatewayUrl + "/notifications/batch", NotifyRequest::of),
 *                 BatchSettings.defaults())
 *         .build();
 * }</pre>
 */
@PublicEvolving
public final class Workflow implements Serializable {
    private static final long serialVersionUID = 1L;
    private static final Pattern NAME = Pattern.compile("[a-z][a-z0-9_-]{0,63}");

    private final String name;
    private final List<Stage> stages;

    private Workflow(String name, List<Stage> stages) {
        this.name = name;
        this.stages = Collections.unmodifiableList(new ArrayList<>(stages));
    }

    public static Builder named(String name) {
        return new Builder(name);
    }

    public String name() {
        return name;
    }

    public List<Stage> stages() {
        return stages;
    }

    /** The first stage not completed in {@code progress} (or completed without its output), or null when all are done. */
    public Stage next(Progress progress) {
        for (Stage stage : stages) {
            if (!progress.isCompleted(stage.name()) || progress.isOutputOmitted(stage.name())) {
                return stage;
            }
        }
        return null;
    }

    public Stage stage(String stageName) {
        for (Stage stage : stages) {
            if (stage.name().equals(stageName)) {
                return stage;
            }
        }
        throw new IllegalArgumentException("workflow " + name + " has no stage " + stageName);
    }

    /** One named stage: local or remote. */
    public static final class Stage implements Serializable {
        private static final long serialVersionUID = 1L;

        private final String name;
        private final LocalStage local;
        private final RemoteStage remote;

        private Stage(String name, LocalStage local, RemoteStage remote) {
            this.name = name;
            this.local = local;
            this.remote = remote;
        }

        public String name() {
            return name;
        }

        public boolean isLocal() {
            return local != null;
        }

        public LocalStage local() {
            return local;
        }

        public RemoteStage remote() {
            return remote;
        }
    }

    /** Builds a workflow; stage names are unique, lower case, and part of the state (never rename one). */
    public static final class Builder {
        private final String name;
        private final List<Stage> stages = new ArrayList<>();
        private final Set<String> names = new HashSet<>();

        private Builder(String name) {
            this.name = Objects.requireNonNull(name, "workflow name");
        }

        public Builder local(String stage, LocalStage function) {
            return add(new Stage(stage, Objects.requireNonNull(function, "local stage function"), null));
        }

        public Builder remote(String stage, RemoteStage call) {
            return add(new Stage(stage, null, Objects.requireNonNull(call, "remote stage call")));
        }

        /**
         * A remote stage whose calls are grouped into batches for {@code call} (a batch endpoint),
         * each item with its own idempotency key and its own result; the batch size adapts as
         * {@code settings} say ({@link BatchingStage}).
         */
        public Builder batched(String stage, BatchCall call, BatchSettings settings) {
            return remote(stage, new BatchingStage(stage, Objects.requireNonNull(call, "batch call"),
                    Objects.requireNonNull(settings, "batch settings")));
        }

        private Builder add(Stage stage) {
            if (!NAME.matcher(stage.name).matches()) {
                throw new IllegalArgumentException("stage name '" + stage.name
                        + "' must match " + NAME.pattern() + " (it is part of state, headers and keys)");
            }
            if (stage.name.equals("ingest")) {
                throw new IllegalArgumentException("stage name 'ingest' is reserved for malformed input");
            }
            if (!names.add(stage.name)) {
                throw new IllegalArgumentException("duplicate stage name '" + stage.name + "'");
            }
            stages.add(stage);
            return this;
        }

        public Workflow build() {
            return new Workflow(name, stages);
        }
    }
}
