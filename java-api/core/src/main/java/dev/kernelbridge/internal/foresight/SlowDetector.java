package dev.kernelbridge.internal.foresight;

import java.util.Arrays;

/**
 * Fail-slow detection on one stream of step (or launch) times: says when the stream has become
 * lastingly slower than it was, and by how much.
 *
 * <ul>
 *   <li><b>Blocks of {@value #BLOCK} steps, each summarised by its fastest step.</b> Spikes (a GC
 *       pause, a neighbour's burst, up to 3× for up to 3 steps) only slow steps down, so they move a
 *       block's minimum far less than its mean or median, while a slow device moves every step.</li>
 *   <li><b>A change-point test on the log of the block minima.</b> For every recent split of the
 *       history into "before" (at least {@value #MIN_BEFORE} blocks) and "after" (2 to
 *       {@value #MAX_AFTER} blocks), the difference of the means is weighed against its own standard
 *       error (noise estimated from the differences of neighbouring blocks, which a single change
 *       does not inflate, and from the spread of steps within their blocks, whichever is larger: the
 *       first alone, from a few dozen blocks, can come out three times too small by chance). A split
 *       with z ≥ {@value #Z} is a change.</li>
 *   <li><b>The ≥ 10% gate:</b> a change counts only if the "after" blocks are at least
 *       {@value #GATE}× slower than the "before" ones, so noise that happens to be significant is not
 *       slowness.</li>
 *   <li><b>Lasting:</b> the "after" blocks must also add up to {@code sustained} of time (for a
 *       device, a second: a neighbour's burst or a GC storm passes sooner; a throttling device stays).</li>
 * </ul>
 * A flagged stream keeps its verdict until {@link #reset}, raised when later blocks show a larger
 * slowdown. Not thread-safe.
 */
public final class SlowDetector {
    static final int BLOCK = 7;
    static final int MIN_BEFORE = 8;
    static final int MAX_AFTER = 24;
    static final double Z = 5.0;
    static final double GATE = 1.10;
    /** Blocks kept: about 450 steps, enough history for a baseline, bounded memory. */
    private static final int HISTORY = 64;
    /** A floor under the noise estimate: two identical timings in a row must not make every change infinitely significant. */
    private static final double MIN_NOISE = 0.005;

    private final double sustained;
    private final double[] blocks = new double[HISTORY];
    /** Each block's total time, for the lasting rule. */
    private final double[] sums = new double[HISTORY];
    /** Each step's distance from its block's median (log), block by block: the step noise, which a slowdown does not inflate. */
    private final double[] spread = new double[HISTORY * BLOCK];
    private final double[] current = new double[BLOCK];
    private int count;
    private double blockMin = Double.POSITIVE_INFINITY;
    private double blockSum;
    private int inBlock;
    private long steps;
    private Slowdown verdict;

    /** A detected change: how much slower, and how many steps ago it began (about). */
    public record Slowdown(double factor, double z, long sinceSteps) { }

    /** {@code sustained}: how much time (in the unit of {@link #add}) a slowdown must last to count. */
    public SlowDetector(double sustained) {
        this.sustained = sustained;
    }

    /** Adds one step's time (any positive unit); the verdict, once there is one, else null. */
    public Slowdown add(double time) {
        if (!(time > 0) || Double.isInfinite(time)) {
            return verdict;
        }
        steps++;
        blockMin = Math.min(blockMin, time);
        blockSum += time;
        current[inBlock] = Math.log(time);
        if (++inBlock < BLOCK) {
            return verdict;
        }
        push(Math.log(blockMin), blockSum);
        blockMin = Double.POSITIVE_INFINITY;
        blockSum = 0;
        inBlock = 0;
        Slowdown now = test();
        if (now != null && (verdict == null || now.factor() > verdict.factor())) {
            verdict = now; // the first verdict comes as soon as it is certain and errs low; later blocks show the whole slowdown
        }
        return verdict;
    }

    public Slowdown verdict() { return verdict; }

    public long steps() { return steps; }

    /** Forgets everything: the device was drained and came back, or its work changed. */
    public void reset() {
        count = 0;
        inBlock = 0;
        blockMin = Double.POSITIVE_INFINITY;
        blockSum = 0;
        steps = 0;
        verdict = null;
    }

    private void push(double logMin, double sum) {
        if (count == HISTORY) {
            System.arraycopy(blocks, 1, blocks, 0, HISTORY - 1);
            System.arraycopy(sums, 1, sums, 0, HISTORY - 1);
            System.arraycopy(spread, BLOCK, spread, 0, (HISTORY - 1) * BLOCK);
            count--;
        }
        double median = median(current.clone());
        for (int i = 0; i < BLOCK; i++) {
            spread[count * BLOCK + i] = Math.abs(current[i] - median);
        }
        blocks[count] = logMin;
        sums[count++] = sum;
    }

    private Slowdown test() {
        if (count < MIN_BEFORE + 2) {
            return null;
        }
        double noise = noise();
        double best = 0;
        Slowdown found = null;
        double total = 0;
        for (int i = 0; i < count; i++) {
            total += blocks[i];
        }
        double after = 0, afterTime = 0;
        for (int n2 = 1; n2 <= Math.min(MAX_AFTER, count - MIN_BEFORE); n2++) {
            after += blocks[count - n2];
            afterTime += sums[count - n2];
            if (n2 < 2 || afterTime < sustained) {
                continue;
            }
            int n1 = count - n2;
            double shift = after / n2 - (total - after) / n1;
            double z = shift / (noise * Math.sqrt(1.0 / n1 + 1.0 / n2));
            if (z >= Z && Math.exp(shift) >= GATE && z > best) {
                best = z;
                found = new Slowdown(Math.exp(shift), z, (long) n2 * BLOCK);
            }
        }
        return found;
    }

    /**
     * The noise of one block minimum, as a standard deviation: from the differences of neighbouring
     * blocks (median absolute difference), and from the steps' spread within their blocks (the
     * minimum of 7 normal draws varies 0.625 times as much as one draw; 1.1 corrects the spread
     * around a block's own median, which is smaller than around the true centre); the larger.
     */
    private double noise() {
        double[] d = new double[count - 1];
        for (int i = 1; i < count; i++) {
            d[i - 1] = Math.abs(blocks[i] - blocks[i - 1]);
        }
        double neighbours = 1.4826 * median(d) / Math.sqrt(2);
        double steps = 0.625 * 1.1 * 1.4826 * median(java.util.Arrays.copyOf(spread, count * BLOCK));
        return Math.max(MIN_NOISE, Math.max(neighbours, steps));
    }

    /** The median of {@code v} (sorted in place). */
    private static double median(double[] v) {
        Arrays.sort(v);
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }
}
