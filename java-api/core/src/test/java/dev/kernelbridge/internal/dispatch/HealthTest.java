package dev.kernelbridge.internal.dispatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kernelbridge.DType;
import dev.kernelbridge.HealthState;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The health state machine on its own: what moves a device between states, and what does not. */
class HealthTest {
    private final Telemetry telemetry = new Telemetry();
    private final long cls = ShapeClass.of(DType.F32, 512, 512, 512, 1);

    @Test
    void failuresDegradeThenQuarantineAndAProbeRestores() {
        Health h = new Health("x:0", telemetry, 2, Duration.ofMillis(1));
        h.failure("boom");
        assertEquals(HealthState.DEGRADED, h.state());
        assertTrue(h.dispatchable());
        h.failure("boom again");
        assertEquals(HealthState.QUARANTINED, h.state());
        assertFalse(h.dispatchable());
        sleep(5);
        assertTrue(h.claimProbe(false));
        assertFalse(h.claimProbe(true), "one probe at a time");
        h.probed(false, "wrong answer");
        assertEquals(HealthState.QUARANTINED, h.state());
        assertTrue(h.snapshot().reason().contains("next probe in 2 ms"), h.snapshot().reason());
        assertTrue(h.claimProbe(true));
        h.probed(true, "exact");
        assertEquals(HealthState.HEALTHY, h.state());
        assertEquals(2, h.snapshot().probes());
    }

    @Test
    void successesBetweenFailuresRecoverAndOutOfMemoryIsNoFault() {
        Health h = new Health("x:0", telemetry, 2, Duration.ofSeconds(5));
        h.failure("transient");
        for (int i = 0; i < 3; i++) {
            h.success(cls, 1e9, 1_000_000);
        }
        assertEquals(HealthState.HEALTHY, h.state());
        h.failure("again, not consecutive");
        assertEquals(HealthState.DEGRADED, h.state());
        for (int i = 0; i < 10; i++) {
            h.outOfMemory();
        }
        assertEquals(HealthState.DEGRADED, h.state(), "out of memory neither quarantines nor counts as a failure");
        assertEquals(2, h.snapshot().failures());
    }

    @Test
    void timeoutsAndCorruptionQuarantineAtOnceAndLossIsForever() {
        Health h = new Health("x:0", telemetry, 5, Duration.ofSeconds(5));
        h.timeout("late");
        assertEquals(HealthState.QUARANTINED, h.state());
        assertFalse(h.claimProbe(false), "not due before its backoff");
        Health c = new Health("y:0", telemetry, 5, Duration.ofSeconds(5));
        c.corruption("canary");
        assertEquals(HealthState.QUARANTINED, c.state());
        Health l = new Health("z:0", telemetry, 5, Duration.ofMillis(1));
        l.lost("illegal address");
        assertEquals(HealthState.LOST, l.state());
        assertFalse(l.claimProbe(true), "a lost device is never probed");
        l.probed(true, "should not matter");
        assertEquals(HealthState.LOST, l.state());
    }

    @Test
    void throughputIgnoresTheWarmUpSampleAndSustainedDriftDegrades() {
        Health h = new Health("x:0", telemetry, 2, Duration.ofSeconds(5));
        h.success(cls, 1e9, 1_000_000_000L); // warm-up: 1 GFLOP/s, dropped
        assertEquals(0, h.gflops(cls));
        h.success(cls, 1e9, 10_000_000L);
        assertEquals(100, h.gflops(cls), 1e-9);
        for (int i = 0; i < 20; i++) {
            h.success(cls, 1e9, 40_000_000L); // 25 GFLOP/s: a quarter of its best
        }
        assertEquals(HealthState.DEGRADED, h.state());
        assertTrue(h.snapshot().reason().startsWith("latency drift"), h.snapshot().reason());
        assertEquals("f32 n~512", ShapeClass.describe(cls));
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }
}
