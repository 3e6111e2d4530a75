package io.stagewise.jobs.reconcile;

import static org.assertj.core.api.Assertions.assertThat;

import io.stagewise.testkit.Sandbox;
import java.io.Serializable;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.apache.flink.api.common.RuntimeExecutionMode;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.connector.jdbc.core.datastream.source.JdbcSource;
import org.apache.flink.connector.jdbc.split.JdbcGenericParameterValuesProvider;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class JdbcSourceEvalITCase {
    @RegisterExtension
    static final Sandbox SANDBOX = new Sandbox();

    @Test
    void readsInParallel() throws Exception {
        String url = SANDBOX.postgres().newDatabase();
        try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE t (id text PRIMARY KEY)");
            s.execute("INSERT INTO t SELECT 'id-' || g FROM generate_series(1, 1000) g");
        }
        Serializable[][] params = {{4, 0}, {4, 1}, {4, 2}, {4, 3}};
        JdbcSource<String> source = JdbcSource.<String>builder()
                .setDBUrl(url)
                .setDriverName("org.postgresql.Driver")
                .setSql("SELECT id FROM t WHERE mod(abs(hashtext(id)), ?) = ?")
                .setJdbcParameterValuesProvider(new JdbcGenericParameterValuesProvider(params))
                .setResultExtractor(rs -> rs.getString(1))
                .setTypeInformation(Types.STRING)
                .build();
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setRuntimeMode(RuntimeExecutionMode.BATCH);
        env.setParallelism(2);
        List<String> out = new ArrayList<>();
        env.fromSource(source, WatermarkStrategy.noWatermarks(), "jdbc").executeAndCollect().forEachRemaining(out::add);
        assertThat(out).hasSize(1000).doesNotHaveDuplicates();
    }
}
