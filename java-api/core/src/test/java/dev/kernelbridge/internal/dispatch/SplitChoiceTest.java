package dev.kernelbridge.internal.dispatch;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * The adaptive SPLIT's decision on machines it has never seen: it must learn from its own
 * measurements whether splitting pays, keep to it, and notice when that changes.
 */
class SplitChoiceTest {
    private static final double SOLO = 100;

    /** Runs {@code calls} calls where a split measures {@code splitRate(call)}; returns how many were split. */
    private static int run(SplitChoice choice, int from, int calls, java.util.function.IntToDoubleFunction splitRate) {
        int splits = 0;
        for (int call = from; call < from + calls; call++) {
            if (choice.split(call, SOLO)) {
                splits++;
                choice.record(splitRate.applyAsDouble(call));
            }
        }
        return splits;
    }

    @Test
    void whereSplittingDoesNotPayItIsTriedAFewTimesAndStops() {
        // Devices sharing cores: a split ties with the best device alone, or loses a little.
        for (double ratio : new double[] {0.6, 0.9, 1.0, 1.03}) {
            SplitChoice choice = new SplitChoice();
            int splits = run(choice, 1, 10_000, call -> SOLO * ratio);
            assertTrue(splits <= 25, "split " + splits + " of 10^4 calls although a split runs at " + ratio + " of one device");
        }
    }

    @Test
    void whereSplittingPaysAlmostEveryCallIsSplit() {
        SplitChoice choice = new SplitChoice();
        int splits = run(choice, 1, 10_000, call -> SOLO * 1.5);
        assertTrue(splits >= 9_980, "only " + splits + " of 10^4 calls were split although a split runs 1.5x faster");
    }

    @Test
    void aBadlyBalancedFirstSplitDoesNotDecideForLong() {
        // The first cut follows guesses: it measures far below what balanced splits then reach.
        SplitChoice choice = new SplitChoice();
        int splits = run(choice, 1, 200, call -> call <= 2 ? SOLO * 0.4 : SOLO * 1.4);
        assertTrue(splits >= 180, "only " + splits + " of 200 calls were split after a bad first split");
    }

    @Test
    void itFollowsAChangeEitherWay() {
        SplitChoice choice = new SplitChoice();
        run(choice, 1, 5_000, call -> SOLO * 1.5);
        // The second device gets busy with other work: splitting stops paying.
        int after = run(choice, 5_001, 5_000, call -> SOLO * 0.8);
        assertTrue(after <= 25, "kept splitting " + after + " times after splits became slower than one device");
        // It is free again: within the longest interval between tries, splitting resumes.
        int again = run(choice, 10_001, 3_000, call -> SOLO * 1.5);
        assertTrue(again >= 3_000 - SplitChoice.LAST_INTERVAL - 16, "split only " + again + " of 3000 calls after splitting paid again");
    }
}
