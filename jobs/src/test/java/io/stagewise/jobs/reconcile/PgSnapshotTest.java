package io.stagewise.jobs.reconcile;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.stagewise.jobs.audit.Classification.IdClass;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The snapshot text round trip, and the HTML chart's points (pure logic; the SQL runs in ReconcileITCase). */
class PgSnapshotTest {
    @Test
    void parsesAndPrintsPostgresSnapshotText() {
        PgSnapshot snapshot = PgSnapshot.parse("4294967300:4294967310:4294967302,4294967305");
        assertThat(snapshot.xmin()).isEqualTo(4294967300L);
        assertThat(snapshot.inProgress()).containsExactly(4294967302L, 4294967305L);
        assertThat(snapshot.toString()).isEqualTo("4294967300:4294967310:4294967302,4294967305");
        assertThat(PgSnapshot.parse("10:12:").inProgress()).isEmpty();
        assertThat(PgSnapshot.parse("10:12:").visibleSql()).contains("< 10").contains("< 12").doesNotContain("NOT IN");
        assertThat(snapshot.visibleSql()).contains("NOT IN (4294967302, 4294967305)");
        assertThatThrownBy(() -> PgSnapshot.parse("10;12")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void theChartHasAPointPerRunAndClass() {
        Map<IdClass, Long> clean = new EnumMap<>(IdClass.class);
        Map<IdClass, Long> missing = new EnumMap<>(IdClass.class);
        missing.put(IdClass.MISSING, 4L);
        String svg = ReconcileReport.chart(List.of(new ReconcileState.RunPoint("r1", 1000, clean, 0, 0),
                new ReconcileState.RunPoint("r2", 2000, missing, 1, 0)));
        assertThat(svg).startsWith("<svg").contains("data-class=\"MISSING\" data-run=\"r1\" data-count=\"0\"")
                .contains("data-class=\"MISSING\" data-run=\"r2\" data-count=\"4\"")
                .contains("data-class=\"balance mismatches\" data-run=\"r2\" data-count=\"1\"")
                .doesNotContain("<script");
        // Six discrepancy classes plus balance mismatches and records not from the input, two runs each.
        assertThat(svg.split("<circle", -1)).hasSize(8 * 2 + 1);
    }
}
