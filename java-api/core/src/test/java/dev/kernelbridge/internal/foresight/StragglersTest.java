package dev.kernelbridge.internal.foresight;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kernelbridge.Stragglers;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Scoring the members of a group against their peers, on seeded step times: 10% noise that the group
 * shares (with its own spikes) on top of each member's own 2% (and spikes). The comparison with peers
 * cancels the shared part, so one member's 1.1× slowdown is found within 100 steps where the same
 * member's own times (the single-device test) mostly hide it; clean groups are never flagged. The
 * benchmark over more seeds and noise levels is ci/bench-anticipate.
 */
class StragglersTest {
    private static final int MEMBERS = 8, STEPS = 350, CHANGE = 100;

    /**
     * A seed of its own for each stream of a run, from a child generator of its own (a gamma of its
     * own). Related seeds are not enough: SplittableRandom streams whose seeds differ by a multiple of
     * its gamma are the same stream shifted, and streams seeded 1 apart put their rare events (the
     * spikes) on the same steps, as if every member paused together.
     */
    private static long seed(long run, int stream) {
        java.util.SplittableRandom r = new java.util.SplittableRandom(run);
        for (int i = 0; i < stream; i++) {
            r.split();
        }
        return r.split().nextLong();
    }

    /** Each member's time per step: the shared stream times its own; member 0 slows by {@code slow} from step 100. */
    private static double[][] group(long seed, double shared, double own, double slow) {
        double[] common = SlowDetectorTest.steps(seed(seed, 0), STEPS, shared, 1, STEPS);
        double[][] t = new double[STEPS][MEMBERS];
        for (int m = 0; m < MEMBERS; m++) {
            double[] mine = SlowDetectorTest.steps(seed(seed, m + 1), STEPS, own, m == 0 ? slow : 1, CHANGE);
            for (int s = 0; s < STEPS; s++) {
                t[s][m] = common[s] * mine[s];
            }
        }
        return t;
    }

    /** The step at which member 0 is first flagged (-1: never); fails if any other member is. */
    private static int firstFlag(double[][] t, boolean peersOnly) {
        Stragglers s = new Stragglers(MEMBERS, 0);
        for (int step = 0; step < t.length; step++) {
            List<Stragglers.Straggler> slow = s.step(t[step]);
            for (Stragglers.Straggler x : slow) {
                assertEquals(0, x.member(), "a member that did not slow down was flagged at step " + step + ": " + x);
                if (x.byPeers() || !peersOnly) {
                    return step;
                }
            }
        }
        return -1;
    }

    @Test
    void cleanGroupsAreNeverFlagged() {
        for (long seed = 1; seed <= 200; seed++) {
            assertEquals(-1, firstFlag(group(seed, 0.10, 0.02, 1.0), false), "seed " + seed);
        }
    }

    @Test
    void aTenPercentSlowerMemberIsFoundByItsPeersWithinAHundredSteps() {
        int byPeers = 0, byItself = 0;
        for (long seed = 1; seed <= 100; seed++) {
            double[][] t = group(seed, 0.10, 0.02, 1.1);
            int at = firstFlag(t, true);
            if (at >= CHANGE && at <= CHANGE + 100) {
                byPeers++;
            }
            double[] alone = new double[STEPS];
            for (int s = 0; s < STEPS; s++) {
                alone[s] = t[s][0];
            }
            int self = SlowDetectorTest.flaggedAt(alone);
            if (self >= CHANGE && self <= CHANGE + 100) {
                byItself++;
            }
        }
        assertTrue(byPeers >= 95, "found by its peers within 100 steps in " + byPeers + " of 100 seeds");
        assertTrue(byItself < byPeers, "its own times alone found it in " + byItself + ", its peers in " + byPeers);
    }

    @Test
    void aGroupOfOneIsScoredAgainstItself() {
        Stragglers s = new Stragglers(1, 0);
        double[] t = SlowDetectorTest.steps(3, STEPS, 0.02, 1.5, CHANGE);
        int at = -1;
        for (int i = 0; i < t.length && at < 0; i++) {
            List<Stragglers.Straggler> slow = s.step(t[i]);
            if (!slow.isEmpty()) {
                at = i;
                assertTrue(!slow.getFirst().byPeers() && slow.getFirst().factor() > 1.2, slow.toString());
            }
        }
        assertTrue(at >= CHANGE && at <= CHANGE + 20, "flagged at step " + at);
        s.reset(0);
        assertTrue(s.step(1.0).isEmpty(), "reset forgets the verdict");
    }

    @Test
    void argumentsAreChecked() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new Stragglers(0, 0)).getMessage().startsWith("members must be at least 1"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new Stragglers(2, -1)).getMessage().startsWith("sustained must be"));
        Stragglers s = new Stragglers(2, 0);
        assertTrue(assertThrows(IllegalArgumentException.class, () -> s.step(1.0)).getMessage().startsWith("times must hold one time per member (2)"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> s.step(1.0, 0.0)).getMessage().startsWith("times[1] must be a finite time > 0"));
        assertEquals(0, s.steps(), "a rejected step is not counted");
    }
}
