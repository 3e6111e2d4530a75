package io.stagewise.operators.dedup;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class DedupRuleTest {
    @Test
    void followsTheContract() {
        assertThat(DedupRule.admit(null, false)).isTrue();
        assertThat(DedupRule.admit(null, true)).isTrue();
        assertThat(DedupRule.admit(EventStatus.IN_PROGRESS, false)).isFalse();
        assertThat(DedupRule.admit(EventStatus.IN_PROGRESS, true)).isFalse();
        assertThat(DedupRule.admit(EventStatus.COMPLETED, false)).isFalse();
        assertThat(DedupRule.admit(EventStatus.COMPLETED, true)).isFalse();
        assertThat(DedupRule.admit(EventStatus.DEAD_LETTERED, false)).isFalse();
        assertThat(DedupRule.admit(EventStatus.DEAD_LETTERED, true)).isTrue();
    }
}
