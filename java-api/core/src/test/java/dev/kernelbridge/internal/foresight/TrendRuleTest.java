package dev.kernelbridge.internal.foresight;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kernelbridge.DeviceTelemetry;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The telemetry rules: a corrected-error ramp drains ahead of the hard fault; a steady rate, however high, never does. */
class TrendRuleTest {
    private static DeviceTelemetry corrected(long ce) {
        return new DeviceTelemetry(ce, 0, -1, -1, -1, -1, -1, Double.NaN, "test");
    }

    private static long poisson(SplittableRandom r, double lambda) {
        double limit = Math.exp(-lambda), p = r.nextDouble();
        long k = 0;
        while (p > limit) {
            p *= r.nextDouble();
            k++;
        }
        return k;
    }

    /** The launch at which the rule drains: errors at {@code base} per launch, ramping {@code factor}× over launches [start, start + 200). */
    private static long drainedAt(long seed, double base, double factor, long start, long launches) {
        SplittableRandom r = new SplittableRandom(seed);
        TrendRule rule = new TrendRule();
        long ce = 0;
        for (long n = 1; n <= launches; n++) {
            double ramp = n < start ? 0 : Math.min(1, (n - start) / 200.0);
            ce += poisson(r, base * (1 + (factor - 1) * ramp));
            if (n % TrendRule.WINDOW == 0 && rule.window(corrected(ce)) != null) {
                return n;
            }
        }
        return -1;
    }

    @Test
    void aRampOfTenToFiftyTimesDrainsBeforeTheHardFault() {
        for (long seed = 1; seed <= 100; seed++) {
            double factor = 10 + 40 * new SplittableRandom(seed * 31).nextDouble();
            long at = drainedAt(seed, 0.1, factor, 200, 400);
            assertTrue(at > 200 && at < 400, "seed " + seed + " factor " + factor + ": drained at " + at + ", the hard fault is at 400");
        }
    }

    @Test
    void aSteadyRateNeverDrainsWhateverItIs() {
        for (double base : new double[] {0, 0.01, 0.1, 1}) {
            for (long seed = 1; seed <= 50; seed++) {
                long at = drainedAt(seed, base, 1, 0, 2000);
                assertTrue(at < 0, base + " per launch, seed " + seed + ": drained at " + at);
            }
        }
    }

    @Test
    void anUncorrectedErrorOrTheLastSpareRowsDrainAtOnce() {
        TrendRule rule = new TrendRule();
        assertNull(rule.window(new DeviceTelemetry(0, 0, 0, 64, -1, -1, -1, Double.NaN, "test")));
        assertTrue(rule.window(new DeviceTelemetry(0, 1, 0, 64, -1, -1, -1, Double.NaN, "test")).contains("uncorrected"));
        TrendRule rows = new TrendRule();
        assertNull(rows.window(new DeviceTelemetry(0, 0, 0, 8, -1, -1, -1, Double.NaN, "test")));
        assertNotNull(rows.window(new DeviceTelemetry(0, 0, 0, 1, -1, -1, -1, Double.NaN, "test")));
    }

    @Test
    void aDeviceThatReportsNothingIsNeverDrained() {
        TrendRule rule = new TrendRule();
        for (int i = 0; i < 100; i++) {
            assertNull(rule.window(DeviceTelemetry.NONE));
        }
    }
}
