package io.stagewise.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.stagewise.jobs.StagewiseException;
import io.stagewise.savepoints.SavepointInspection;
import io.stagewise.savepoints.SavepointInspection.NotASavepointException;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code stagewise savepoint inspect PATH}: what a savepoint or retained checkpoint of the pipeline
 * holds in the stage operator (docs/cli.md). Read-only. A path that holds no savepoint of the
 * pipeline, or an event id it knows nothing of, prints one line and exits 2.
 */
@Command(name = "savepoint", mixinStandardHelpOptions = true,
        description = "Read savepoints and retained checkpoints of the pipeline.",
        subcommands = {SavepointCommand.InspectCommand.class})
public final class SavepointCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a subcommand is required: inspect");
    }

    /** {@code savepoint inspect PATH [--id ID] [--json]}. */
    @Command(name = "inspect", mixinStandardHelpOptions = true,
            description = "Per stage: events in flight, in backoff, in each retry step (with due times); parked events per key; "
                    + "dedup entries by status; the oldest entry of each kind. --id shows one event's full record.")
    public static final class InspectCommand implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Parameters(index = "0", paramLabel = "PATH",
                description = "The savepoint or checkpoint directory (or its _metadata file): a local path or any Flink filesystem URI.")
        String path;

        @Option(names = "--id", paramLabel = "EVENT_ID", description = "Show this event's full record only.")
        String eventId;

        @Option(names = "--json", description = "Also print the report as one JSON object on the last line.")
        boolean json;

        @Override
        public Integer call() throws Exception {
            PrintWriter out = spec.commandLine().getOut();
            SavepointInspection inspection;
            try {
                inspection = SavepointInspection.read(path, eventId);
            } catch (NotASavepointException e) {
                throw new StagewiseException(e.getMessage());
            }
            if (eventId != null) {
                ObjectNode record = inspection.event(eventId).orElseThrow(() -> new StagewiseException(
                        "no state for event id '" + eventId + "' in " + path + " (never seen, or its dedup record expired)"));
                out.println(record.toPrettyString());
                if (json) {
                    out.println(record);
                }
            } else {
                out.print(inspection.render());
                if (json) {
                    out.println(inspection.toJson());
                }
            }
            out.flush();
            return 0;
        }
    }
}
