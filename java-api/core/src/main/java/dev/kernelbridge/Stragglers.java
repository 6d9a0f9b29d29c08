package dev.kernelbridge;

import dev.kernelbridge.internal.foresight.SlowDetector;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Fail-slow scoring for a group that works in steps: the ranks of a data-parallel job, the devices
 * that share each step's work. Every step, each member's time is scored two ways, each with the
 * pool's fail-slow test (blocks of 7 steps, a change-point test, the 10% gate, see docs/foresight.md;
 * its z threshold rises from 5 to √(25 + 2 ln(2 × members)) so that a group of many is not flagged
 * by chance more often than one device):
 * <ul>
 *   <li><b>against its peers:</b> its time over the median of the others' in the same step. What the
 *       whole group suffers — a slow input batch, a longer sequence, a busy file system — slows every
 *       member alike and cancels out, so a small slowdown of one member shows sooner;</li>
 *   <li><b>against itself:</b> its time against its own earlier steps, which still works for a group
 *       of one and for a slowdown that every member shares.</li>
 * </ul>
 * Where members take shares of different size (a rebalanced batch), give each its time per unit of
 * work. A member keeps its verdict until {@link #reset(int)}. Not thread-safe: feed it from the thread that
 * ends each step. Under MPI, feed every rank the same gathered times so that every rank reaches the
 * same verdict at the same step (a decision taken from one rank's clock alone would not be agreed).
 */
public final class Stragglers {
    /**
     * A member found lastingly slower: {@code factor} is how much slower than before (its peers'
     * estimate when the peers found it, else its own), since about {@code sinceSteps} steps ago;
     * {@code byPeers}: whether the comparison with its peers found it.
     */
    public record Straggler(int member, double factor, long sinceSteps, boolean byPeers) { }

    private final SlowDetector[] againstPeers;
    private final SlowDetector[] againstItself;
    private final double[] others;
    private long steps;

    /**
     * @param members    the size of the group, at least 1
     * @param sustained  how long (in the unit of the times given to {@link #step}) a slowdown of a member's
     *                   own times must last to count; a step-long burst of the whole machine is not a slow member
     */
    public Stragglers(int members, double sustained) {
        if (members < 1) {
            throw new IllegalArgumentException("members must be at least 1, got " + members);
        }
        if (!(sustained >= 0) || Double.isInfinite(sustained)) {
            throw new IllegalArgumentException("sustained must be a finite time >= 0, got " + sustained);
        }
        againstPeers = new SlowDetector[members];
        againstItself = new SlowDetector[members];
        for (int i = 0; i < members; i++) {
            // The ratio has no unit: two blocks (14 steps) are its least evidence. Each of the 2 × members
            // streams asks a little more evidence, so a group is not flagged by chance more often than one device.
            againstPeers[i] = new SlowDetector(0, 2 * members);
            againstItself[i] = new SlowDetector(sustained, 2 * members);
        }
        others = new double[Math.max(1, members - 1)];
    }

    /**
     * One step's times, one per member (any positive unit, the same for all); returns the members
     * found slow so far, in member order (empty while none is).
     */
    public List<Straggler> step(double... times) {
        if (times == null || times.length != againstPeers.length) {
            throw new IllegalArgumentException("times must hold one time per member (" + againstPeers.length + "), got "
                    + (times == null ? "null" : times.length));
        }
        for (int i = 0; i < times.length; i++) {
            if (!(times[i] > 0) || Double.isInfinite(times[i])) {
                throw new IllegalArgumentException("times[" + i + "] must be a finite time > 0, got " + times[i]);
            }
        }
        steps++;
        List<Straggler> slow = new ArrayList<>();
        for (int i = 0; i < times.length; i++) {
            SlowDetector.Slowdown peers = null;
            if (times.length > 1) {
                for (int j = 0, o = 0; j < times.length; j++) {
                    if (j != i) {
                        others[o++] = times[j];
                    }
                }
                peers = againstPeers[i].add(times[i] / median(others));
            }
            SlowDetector.Slowdown itself = againstItself[i].add(times[i]);
            if (peers != null) {
                slow.add(new Straggler(i, peers.factor(), peers.sinceSteps(), true));
            } else if (itself != null) {
                slow.add(new Straggler(i, itself.factor(), itself.sinceSteps(), false));
            }
        }
        return slow;
    }

    /** Steps seen. */
    public long steps() { return steps; }

    /** Forgets a member's history: it was replaced, or its share of the work changed. */
    public void reset(int member) {
        againstPeers[member].reset();
        againstItself[member].reset();
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
