package io.stagewise.jobs;

import static org.awaitility.Awaitility.await;

import io.stagewise.jobs.audit.Audit;
import io.stagewise.jobs.audit.AuditReport;
import io.stagewise.jobs.generator.PaymentGenerator;
import java.time.Duration;
import java.util.Optional;

/** Shared waits and audits of the pipeline tests. */
final class PipelineTestSupport {
    static final String INPUT = "payments";
    static final String OUTPUT = "payments.completed";

    private PipelineTestSupport() {}

    static Audit.Topics topics(String bootstrap) {
        return new Audit.Topics(bootstrap, INPUT, OUTPUT, Topics.dlq(INPUT));
    }

    static AuditReport audit(String bootstrap, PaymentGenerator.Plan plan) {
        return Audit.run(topics(bootstrap), io.stagewise.operators.ingest.EventParser.DEFAULT_MAX_EVENT_BYTES,
                Optional.of(plan));
    }

    /** Waits until the committed output and DLQ hold at least what the plan makes, or fails at the deadline. */
    static void awaitCaughtUp(String bootstrap, PaymentGenerator.Plan plan, Duration deadline) {
        await("every planned id in the output and every malformed record in the DLQ")
                .atMost(deadline)
                .pollInterval(Duration.ofMillis(500))
                .until(() -> {
                    AuditReport report = audit(bootstrap, plan);
                    return report.count("completed") >= plan.validIds().size()
                            && report.count("malformedDeadLetters") >= plan.malformed();
                });
    }

    /** Waits until the committed output holds at least {@code records} records. */
    static void awaitOutput(String bootstrap, long records, Duration deadline) {
        await("at least " + records + " committed output records")
                .atMost(deadline)
                .pollInterval(Duration.ofMillis(200))
                .until(() -> io.stagewise.jobs.audit.TopicReader.readAll(bootstrap, OUTPUT, Duration.ofSeconds(30)).size() >= records);
    }
}
