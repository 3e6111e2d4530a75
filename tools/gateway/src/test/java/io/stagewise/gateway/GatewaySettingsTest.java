package io.stagewise.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Settings validation and the fault policies. */
class GatewaySettingsTest {

    @Test
    void defaultsDescribeAWellBehavedGatewayOnAFreePort() {
        GatewaySettings settings = GatewaySettings.defaults();

        assertThat(settings.port()).isZero();
        assertThat(settings.bindAddress()).isEqualTo("127.0.0.1");
        assertThat(settings.threads()).isEqualTo(GatewaySettings.DEFAULT_THREADS).isGreaterThanOrEqualTo(100);
        assertThat(settings.latency()).isZero();
        assertThat(settings.declineAccounts()).isEmpty();
        assertThat(settings.faults().decide("charges", "k", 1)).isEqualTo(Fault.NONE);
    }

    @Test
    void refusesSettingsOutOfRangeNamingThem() {
        assertInvalid(GatewaySettings.builder().port(-1), "port");
        assertInvalid(GatewaySettings.builder().port(65536), "port");
        assertInvalid(GatewaySettings.builder().threads(0), "threads");
        assertInvalid(GatewaySettings.builder().maxDbConnections(0), "maxDbConnections");
        assertInvalid(GatewaySettings.builder().latency(Duration.ofMillis(-1)), "latency");
        assertInvalid(GatewaySettings.builder().staleExecutionTimeout(Duration.ZERO), "staleExecutionTimeout");
        assertInvalid(GatewaySettings.builder().latency(Duration.ofSeconds(5)).staleExecutionTimeout(Duration.ofSeconds(5)),
                "staleExecutionTimeout");
        assertInvalid(GatewaySettings.builder().bindAddress(" "), "bindAddress");
        assertThatThrownBy(() -> GatewaySettings.builder().declineAccounts(List.of("acct-1", " ")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("declineAccounts");
    }

    @Test
    void refusesFaultRatesOutsideTheUnitIntervalOrAddingUpToMoreThanOne() {
        assertThatThrownBy(() -> FaultPolicy.random(-0.1, 0, 1)).hasMessageContaining("transientFailureRate");
        assertThatThrownBy(() -> FaultPolicy.random(0, 1.1, 1)).hasMessageContaining("timeoutRate");
        assertThatThrownBy(() -> FaultPolicy.random(Double.NaN, 0, 1)).hasMessageContaining("transientFailureRate");
        assertThatThrownBy(() -> GatewaySettings.builder().randomFaults(0.6, 0.5, 1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("<= 1");
        assertThat(FaultPolicy.random(0.5, 0.5, 1).decide("charges", "k", 1)).isNotNull();
    }

    @Test
    void randomFaultsHitTheirRatesAndDependOnlyOnSeedKeyAndRequestNumber() {
        FaultPolicy policy = FaultPolicy.random(0.2, 0.1, 7);
        Map<Fault, Integer> counts = new EnumMap<>(Fault.class);
        List<Fault> firstPass = new ArrayList<>();
        int draws = 20_000;
        for (int i = 0; i < draws; i++) {
            Fault fault = policy.decide("charges", "pay-" + i + ":charge", 1 + i % 3);
            counts.merge(fault, 1, Integer::sum);
            firstPass.add(fault);
        }
        assertThat(counts.get(Fault.TRANSIENT) / (double) draws).isBetween(0.19, 0.21);
        assertThat(counts.get(Fault.TIMEOUT) / (double) draws).isBetween(0.09, 0.11);

        FaultPolicy sameSeed = FaultPolicy.random(0.2, 0.1, 7);
        FaultPolicy otherSeed = FaultPolicy.random(0.2, 0.1, 8);
        int differences = 0;
        for (int i = draws - 1; i >= 0; i--) { // another order: decisions do not depend on it
            String key = "pay-" + i + ":charge";
            assertThat(sameSeed.decide("charges", key, 1 + i % 3)).isEqualTo(firstPass.get(i));
            if (otherSeed.decide("charges", key, 1 + i % 3) != firstPass.get(i)) {
                differences++;
            }
        }
        assertThat(differences).isGreaterThan(draws / 10);
    }

    @Test
    void scriptedFaultsHitTheFirstRequestsOfMatchingKeysOnOneEndpoint() {
        FaultPolicy policy = FaultPolicy.firstRequests("charges", key -> key.startsWith("pay-7:"), 2, Fault.TIMEOUT)
                .orElse(FaultPolicy.firstRequests("notifications", key -> true, 1, Fault.TRANSIENT));

        assertThat(policy.decide("charges", "pay-7:charge", 1)).isEqualTo(Fault.TIMEOUT);
        assertThat(policy.decide("charges", "pay-7:charge", 2)).isEqualTo(Fault.TIMEOUT);
        assertThat(policy.decide("charges", "pay-7:charge", 3)).isEqualTo(Fault.NONE);
        assertThat(policy.decide("charges", "pay-8:charge", 1)).isEqualTo(Fault.NONE);
        assertThat(policy.decide("notifications", "pay-7:notify", 1)).isEqualTo(Fault.TRANSIENT);
        assertThat(policy.decide("notifications", "pay-7:notify", 2)).isEqualTo(Fault.NONE);
    }

    private static void assertInvalid(GatewaySettings.Builder builder, String setting) {
        assertThatThrownBy(builder::build).isInstanceOf(IllegalArgumentException.class).hasMessageContaining(setting);
    }
}
