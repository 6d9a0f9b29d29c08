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
    void smallerCallsOfTheSameClassAreNotASlowDevice() {
        // A rebalanced shard: the same class's calls halve in size and, being smaller, run 1.4x fewer
        // flops per second on the same device. Compared as if the same work, that is a 1.4x slowdown.
        Health h = new Health("x:0", telemetry, 2, Duration.ofSeconds(5));
        h.foresight(() -> true, true);
        java.util.List<String> warnings = new java.util.ArrayList<>();
        java.util.logging.Logger log = java.util.logging.Logger.getLogger("dev.kernelbridge.dispatch");
        java.util.logging.Handler capture = new java.util.logging.Handler() {
            @Override
            public void publish(java.util.logging.LogRecord rec) {
                if (rec.getLevel().intValue() >= java.util.logging.Level.WARNING.intValue()) {
                    warnings.add(rec.getMessage());
                }
            }

            @Override
            public void flush() { }

            @Override
            public void close() { }
        };
        log.addHandler(capture);
        try {
            java.util.SplittableRandom r = new java.util.SplittableRandom(4);
            double flops = 2e8; // 100 ms per call at 2 GFLOP/s, 2% noise
            for (int i = 0; i < 600; i++) {
                boolean halved = i >= 300;
                double f = halved ? flops / 2 : flops;
                long nanos = (long) (f / 2.0 * (halved ? 1.4 : 1.0) * Math.exp(0.02 * r.nextGaussian()));
                h.success(cls, f, nanos);
            }
        } finally {
            log.removeHandler(capture);
        }
        assertEquals(HealthState.HEALTHY, h.state());
        assertEquals(java.util.List.of(), warnings, "no rebalance warning, no drain");
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
        for (int i = 0; i < 40; i++) {
            h.success(cls, 1e9, 40_000_000L); // 25 GFLOP/s: a quarter of its best, for 1.6 s of device time
        }
        assertEquals(HealthState.DEGRADED, h.state());
        assertTrue(h.snapshot().reason().startsWith("latency drift"), h.snapshot().reason());
        assertEquals("f32 n~512", ShapeClass.describe(cls));
    }

    @Test
    void aPassingSlowdownOrAColdStartIsNotDrift() {
        Health h = new Health("x:0", telemetry, 2, Duration.ofSeconds(5));
        for (int i = 0; i < 30; i++) { // a cold JIT: slow first, then faster and faster
            h.success(cls, 1e9, Math.max(10_000_000L, 200_000_000L - i * 20_000_000L));
        }
        for (int round = 0; round < 5; round++) {
            for (int i = 0; i < 12; i++) {
                h.success(cls, 1e9, 10_000_000L); // its normal speed
            }
            for (int i = 0; i < 15; i++) {
                h.success(cls, 1e9, 60_000_000L); // a neighbour's burst or a GC storm: 15 slow calls, then over
            }
        }
        for (int i = 0; i < 200; i++) {
            h.success(cls, 1e6, 100_000L); // short calls are never judged, however slow
        }
        assertEquals(HealthState.HEALTHY, h.state());
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }
}
