package io.stagewise.jobs.reconcile;

import static org.assertj.core.api.Assertions.assertThat;

import io.stagewise.jobs.payments.PaymentsLedger;
import io.stagewise.testkit.Sandbox;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.api.common.RuntimeExecutionMode;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The parallel PostgreSQL read of the reconcile job: more hash ranges than subtasks, so each
 * subtask reads several splits one after the other (where flink-connector-jdbc-core's JdbcSource
 * closed the connection under itself), and every row arrives exactly once.
 */
class HashRangeJdbcSourceITCase {
    @RegisterExtension
    static final Sandbox SANDBOX = new Sandbox();

    @Test
    void everyRowOnceWithMoreSplitsThanSubtasks() throws Exception {
        String url = SANDBOX.postgres().newDatabase();
        try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE t (id text PRIMARY KEY)");
            s.execute("INSERT INTO t SELECT 'id-' || g FROM generate_series(1, 5000) g");
        }
        HashRangeJdbcSource<String> source = new HashRangeJdbcSource<>(new PaymentsLedger.Database(url, null, null),
                HashRangeJdbcSource.byHash("SELECT id FROM t", "id", null), 8, row -> row.getString(1), Types.STRING);
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setRuntimeMode(RuntimeExecutionMode.BATCH);
        env.setParallelism(2);
        List<String> rows = new ArrayList<>();
        env.fromSource(source, WatermarkStrategy.noWatermarks(), "t").uid("t").executeAndCollect().forEachRemaining(rows::add);
        assertThat(rows).hasSize(5000).doesNotHaveDuplicates();
    }
}
