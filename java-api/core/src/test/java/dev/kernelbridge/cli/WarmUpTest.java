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
            assertTrue(w.goOn(1000), "settled, but the first 0.2 s belongs to the JIT");
        }
        Thread.sleep(250);
        assertTrue(w.goOn(5000), "a slow round unsettles it");
        for (int i = 0; i < 4; i++) {
            assertTrue(w.goOn(1000 + i * 20));
        }
        assertFalse(w.goOn(1050), "five rounds within 10%: settled");

        WarmUp noisy = new WarmUp();
        Thread.sleep(250);
        for (int i = 0; i < 20; i++) {
            assertTrue(noisy.goOn(i % 2 == 0 ? 1000 : 2000), "never settles: goes on until its limit");
        }
    }

    @Test
    void theSpreadOfTheTimedRunsIsReportedAndAWideOneSaysSo() {
        WarmUp.Spread s = WarmUp.Spread.of(new double[] {3, 1, 2});
        assertEquals(2, s.median());
        assertEquals(1, s.min());
        assertEquals(3, s.max());
        assertEquals(1.0, s.relative());
        assertTrue(s.wide());
        assertTrue(s.describe(3).contains("median of 3, spread 100% (wide"), s.describe(3));
        WarmUp.Spread tight = WarmUp.Spread.of(new double[] {1.0, 1.05, 1.02, 1.01});
        assertEquals(1.015, tight.median(), 1e-12);
        assertFalse(tight.wide());
        assertEquals("one timed run", WarmUp.Spread.of(new double[] {1}).describe(1));
    }
}
