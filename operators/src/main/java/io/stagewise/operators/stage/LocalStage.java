package io.stagewise.operators.stage;

import org.apache.flink.annotation.PublicEvolving;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.Serializable;

/**
 * A stage that runs on the task thread: a pure, fast function of the event and earlier outputs
 * (validation, enrichment from the payload). Throw {@link PermanentStageException} to reject the
 * event; any other exception is an error in stage code.
 */
@FunctionalInterface
@PublicEvolving
public interface LocalStage extends Serializable {
    JsonNode apply(StageContext context) throws Exception;
}
