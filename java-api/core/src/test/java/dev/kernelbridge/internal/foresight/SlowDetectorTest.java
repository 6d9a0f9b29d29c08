package dev.kernelbridge.internal.foresight;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Fail-slow detection on seeded step-time streams: noise of σ 10% with spikes up to 3× for up to 3
 * steps is never slowness; a 1.5× slowdown is flagged within 20 steps, and a slowdown below the 10%
 * gate never is. (The benchmark over 1,000 seeds is ci/bench-anticipate; these are its floor.)
 */
class SlowDetectorTest {
    /** Step times: log-normal noise, spikes starting at 1% of steps, a slowdown from {@code change}. */
    static double[] steps(long seed, int count, double sigma, double slow, int change) {
        SplittableRandom r = new SplittableRandom(seed);
        double[] t = new double[count];
        int spikeLeft = 0;
        double spike = 1;
        for (int i = 0; i < count; i++) {
            double u = 1 - r.nextDouble(), v = r.nextDouble();
            t[i] = Math.exp(sigma * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
            if (spikeLeft == 0 && r.nextDouble() < 0.01) {
                spikeLeft = 1 + r.nextInt(3);
                spike = 1.5 + 1.5 * r.nextDouble();
            }
            if (spikeLeft > 0) {
                spikeLeft--;
                t[i] *= spike;
            }
            if (i >= change) {
                t[i] *= slow;
            }
        }
        return t;
    }

    /** The step at which the detector first flags the stream, or -1. */
    static int flaggedAt(double[] t) {
        SlowDetector d = new SlowDetector(0);
        for (int i = 0; i < t.length; i++) {
            if (d.add(t[i]) != null) {
                return i;
            }
        }
        return -1;
    }

    @Test
    void noisyCleanRunsWithSpikesAreNeverSlow() {
        for (long seed = 1; seed <= 200; seed++) {
            assertEquals(-1, flaggedAt(steps(seed, 350, 0.10, 1, 0)), "seed " + seed);
        }
    }

    @Test
    void aOneAndAHalfTimesSlowdownIsFlaggedWithinTwentySteps() {
        int late = 0;
        for (long seed = 1; seed <= 100; seed++) {
            int at = flaggedAt(steps(seed, 350, 0.05, 1.5, 100));
            assertTrue(at < 0 || at >= 100, "flagged before the change, seed " + seed);
            if (at < 0 || at - 100 > 20) {
                late++;
            }
        }
        assertTrue(late <= 5, late + " of 100 seeds flagged later than 20 steps");
    }

    @Test
    void backToBackSpikesThatCoverWholeBlocksAreNotSlowness() {
        // Three spikes in a row (9 steps at 2-3x, more than a block) in otherwise clean 5% noise: a burst
        // lifts one or two block minima, a slower device lifts all of them.
        for (long seed = 1; seed <= 100; seed++) {
            double[] t = steps(seed, 350, 0.05, 1, 350);
            java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
            int at = 120 + r.nextInt(150);
            for (int i = at; i < at + 9; i++) {
                t[i] *= 2 + r.nextDouble();
            }
            assertEquals(-1, flaggedAt(t), "a 9-step burst at step " + at + " is not slowness, seed " + seed);
        }
    }

    @Test
    void aSlowdownBelowTheGateIsNotSlowness() {
        for (long seed = 1; seed <= 50; seed++) {
            assertEquals(-1, flaggedAt(steps(seed, 350, 0.02, 1.05, 100)), "5% is below the 10% gate, seed " + seed);
        }
    }

    @Test
    void theVerdictSaysHowMuchSlowerAndResetForgetsIt() {
        SlowDetector d = new SlowDetector(0);
        SlowDetector.Slowdown v = null;
        for (int i = 0; i < 200 && v == null; i++) {
            v = d.add(i < 100 ? 1.0 + 0.01 * (i % 3) : 2.0 + 0.01 * (i % 3));
        }
        assertNotNull(v);
        // Flagged as soon as it is certain, when one of the two blocks after the change may still hold a
        // step from before it: the first estimate errs low, never high.
        assertTrue(v.factor() >= 1.3 && v.factor() <= 2.2, v.toString());
        d.reset();
        assertNull(d.verdict());
        assertEquals(0, d.steps());
    }
}
