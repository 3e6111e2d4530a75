package io.stagewise.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.reflect.Proxy;
import java.util.concurrent.CompletableFuture;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.core.execution.JobClient;
import org.junit.jupiter.api.Test;

/** The demo's progress loop under a loaded machine: a slow answer from the cluster is no failure. */
class DemoFollowTest {

    @Test
    void aJobStatusThatDoesNotAnswerInTimeIsUnknownNotAFailure() throws Exception {
        assertThat(DemoCommand.jobStatus(client(new CompletableFuture<>()))).isNull();
    }

    @Test
    void aJobStatusThatAnswersIsReturned() throws Exception {
        assertThat(DemoCommand.jobStatus(client(CompletableFuture.completedFuture(JobStatus.FAILED))))
                .isEqualTo(JobStatus.FAILED);
    }

    private static JobClient client(CompletableFuture<JobStatus> status) {
        return (JobClient) Proxy.newProxyInstance(JobClient.class.getClassLoader(), new Class<?>[] {JobClient.class},
                (proxy, method, args) -> {
                    if (method.getName().equals("getJobStatus")) {
                        return status;
                    }
                    throw new UnsupportedOperationException(method.getName());
                });
    }
}
