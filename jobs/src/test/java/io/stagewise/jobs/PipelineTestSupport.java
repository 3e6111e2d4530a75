package io.stagewise.jobs;

import static org.awaitility.Awaitility.await;

import io.stagewise.jobs.audit.Audit;
import io.stagewise.jobs.audit.AuditReport;
import io.stagewise.testkit.PaymentGenerator;
import io.stagewise.operators.ingest.EventParser;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;

/** Shared waits and audits of the pipeline tests. */
public final class PipelineTestSupport {
    public static final String INPUT = "payments";
    public static final String OUTPUT = "payments.completed";

    private PipelineTestSupport() {}

    public static Audit.Topics topics(String bootstrap) {
        return topics(bootstrap, INPUT, OUTPUT);
    }

    public static Audit.Topics topics(String bootstrap, String input, String output) {
        return new Audit.Topics(bootstrap, input, output, Topics.dlq(input));
    }

    public static AuditReport audit(String bootstrap, PaymentGenerator.Plan plan) {
        return audit(topics(bootstrap), plan, null);
    }

    public static AuditReport audit(Audit.Topics topics, PaymentGenerator.Plan plan, Map<String, Integer> charges) {
        return Audit.run(topics, EventParser.DEFAULT_MAX_EVENT_BYTES, Optional.of(new Audit.Expected(plan.records().size(), plan.validIds(), plan.malformed(), plan::sumsFor)), Optional.ofNullable(charges));
    }

    public static void awaitCaughtUp(String bootstrap, PaymentGenerator.Plan plan, Duration deadline) {
        awaitSettled(topics(bootstrap), plan, deadline);
    }

    /**
     * Waits until every distinct planned id is in the committed output or DLQ and every malformed
     * record is in the DLQ, or fails at the deadline.
     */
    public static void awaitSettled(Audit.Topics topics, PaymentGenerator.Plan plan, Duration deadline) {
        await("every planned id in the output or the DLQ, every malformed record in the DLQ")
                .atMost(deadline)
                .pollInterval(Duration.ofMillis(500))
                .until(() -> {
                    AuditReport report = audit(topics, plan, null);
                    return report.count("completed") + report.count("deadLetters") - report.count("malformedDeadLetters")
                                    >= plan.validIds().size()
                            && report.count("malformedDeadLetters") >= plan.malformed();
                });
    }

    /** Waits until the committed output holds at least {@code records} records. */
    public static void awaitOutput(String bootstrap, long records, Duration deadline) {
        await("at least " + records + " committed output records")
                .atMost(deadline)
                .pollInterval(Duration.ofMillis(200))
                .until(() -> io.stagewise.jobs.audit.TopicReader.readAll(bootstrap, OUTPUT, Duration.ofSeconds(30)).size() >= records);
    }
}
