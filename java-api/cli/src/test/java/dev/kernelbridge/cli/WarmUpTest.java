package dev.kernelbridge.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The CLI's figures: warm-up ends only when the timing has settled (and a cold JIT has had its time); the spread is reported. */
class WarmUpTest {
    @Test
    void warmUpGoesOnUntilTheLastRoundsAgreeAndTheJitHasHadItsTime() throws InterruptedException {
        WarmUp w = new WarmUp();
        for (int i = 0; i < 5; i++) {
            assertTrue(w.goOn(1000), "settled, but the first second belongs to the JIT");
        }
        Thread.sleep(1050);
        assertTrue(w.goOn(5000), "a slow round unsettles it");
        for (int i = 0; i < 4; i++) {
            assertTrue(w.goOn(1000 + i * 20));
        }
        assertFalse(w.goOn(1050), "five rounds within 10%: settled");

        WarmUp noisy = new WarmUp();
        Thread.sleep(1050);
        for (int i = 0; i < 20; i++) {
            assertTrue(noisy.goOn(i % 2 == 0 ? 1000 : 2000), "never settles: goes on until its limit");
        }
    }

    @Test
    void theSpreadOfTheTimedRunsIsReportedAndAWideOneSaysSo() {
        WarmUp.Spread s = WarmUp.Spread.of(new double[] {3, 1, 2, 5, 4});
        assertEquals(3, s.median());
        assertEquals(2, s.q1());
        assertEquals(4, s.q3());
        assertEquals(1, s.min());
        assertEquals(5, s.max());
        assertEquals(2.0 / 3, s.relative(), 1e-12);
        assertTrue(s.wide());
        assertTrue(s.describe(5).contains("median of 5, interquartile range 67% (wide"), s.describe(5));
        WarmUp.Spread oneStray = WarmUp.Spread.of(new double[] {1.0, 1.01, 1.02, 1.0, 1.01, 1.02, 1.0, 9.0});
        assertFalse(oneStray.wide(), "one stray run (a GC pause) does not make the figure rough: " + oneStray.relative());
        assertEquals(1.01, oneStray.median(), 1e-12);
        assertEquals("one timed run", WarmUp.Spread.of(new double[] {1}).describe(1));
    }
}
