package io.stagewise.bench.peer;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.core.execution.SavepointFormatType;
import org.junit.jupiter.api.Test;

class PeerAppTest {

    /**
     * A job's cancel future completes when the cluster has accepted the request, while its tasks still
     * close their RocksDB instances and Kafka producers. {@code System.exit} in that window raced the
     * tasks' teardown and left the child JVM hanging in its exit ({@code bench peer}: "did not exit within
     * 60 s after stop"). So the stop returns only once the job has reached its terminal state.
     */
    @Test
    void stopReturnsOnlyOnceTheJobHasTerminated() throws Exception {
        SlowCancellingJob job = new SlowCancellingJob();
        CompletableFuture<Void> stopped = CompletableFuture.runAsync(() -> {
            try {
                PeerApp.stop(job, Duration.ofSeconds(30));
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });

        assertThat(job.cancelRequested.get(30, TimeUnit.SECONDS)).isTrue();
        // The cancel was accepted, the tasks have not terminated yet: stop must still be waiting.
        assertThat(stopped).isNotDone();
        job.result.completeExceptionally(new IllegalStateException("Job was cancelled"));

        stopped.get(30, TimeUnit.SECONDS);
    }

    /** Accepts the cancel at once; its result (the tasks' end) comes when the test says so. */
    private static final class SlowCancellingJob implements JobClient {
        final CompletableFuture<Boolean> cancelRequested = new CompletableFuture<>();
        final CompletableFuture<JobExecutionResult> result = new CompletableFuture<>();

        @Override
        public JobID getJobID() {
            return new JobID();
        }

        @Override
        public CompletableFuture<JobStatus> getJobStatus() {
            return CompletableFuture.completedFuture(result.isDone() ? JobStatus.CANCELED : JobStatus.CANCELLING);
        }

        @Override
        public CompletableFuture<Void> cancel() {
            cancelRequested.complete(true);
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public CompletableFuture<String> stopWithSavepoint(boolean advanceToEndOfEventTime, String savepointDirectory,
                                                           SavepointFormatType formatType) {
            throw new UnsupportedOperationException();
        }

        @Override
        public CompletableFuture<String> triggerSavepoint(String savepointDirectory, SavepointFormatType formatType) {
            throw new UnsupportedOperationException();
        }

        @Override
        public CompletableFuture<Map<String, Object>> getAccumulators() {
            throw new UnsupportedOperationException();
        }

        @Override
        public CompletableFuture<JobExecutionResult> getJobExecutionResult() {
            return result;
        }
    }
}
