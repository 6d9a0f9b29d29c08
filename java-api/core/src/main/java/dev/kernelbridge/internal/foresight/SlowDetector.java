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
 *   <li><b>A change-point test on the log of the block minima</b>, "before" taken by its median (a
 *       block of glitch-fast steps must not pull the baseline down), "after" by its mean less a block
 *       that stands out by more than {@value #OUTLIER} noise units (a burst). For every recent split of the
 *       history into "before" (at least {@value #MIN_BEFORE} blocks) and "after" (2 to
 *       {@value #MAX_AFTER} blocks), the difference of the means is weighed against its own standard
 *       error (noise estimated from the differences of neighbouring blocks, which a single change
 *       does not inflate, and from the spread of steps within their blocks, whichever is larger: the
 *       first alone, from a few dozen blocks, can come out three times too small by chance). A split
 *       with z ≥ {@value #Z} is a change.</li>
 *   <li><b>The ≥ 10% gate:</b> a change counts only if its estimate, taken one standard error high,
 *       reaches {@value #GATE}×. Noise that happens to be significant is not slowness, and a true 10%
 *       slowdown is not a coin toss at the gate (its estimate falls under 1.10 half the time). With
 *       z ≥ 5 no estimate under 1.08× passes.</li>
 *   <li><b>A level, not a burst:</b> every "after" block (all but a quarter of them, past four) must
 *       lie above the halfway mark between the two means; back-to-back spikes that cover one block
 *       whole lift the mean of two blocks, but not both.</li>
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
    /** How much more the median of normal draws varies than their mean (π/2, as a variance). */
    private static final double MEDIAN_VARIANCE = Math.PI / 2;
    /** A block this many noise units above the other "after" blocks is a burst, not part of a level. */
    private static final double OUTLIER = 4;

    private final double sustained;
    /** The z a change must reach: {@link #Z} for one stream, more for one of many. */
    private final double z;
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
        this(sustained, 1);
    }

    /**
     * As above, for one of {@code streams} streams watched together (the members of a group): the
     * threshold rises from z = {@value #Z} to √(Z² + 2 ln streams), so that a group is flagged by
     * chance about as rarely as one stream is (the tail of the normal falls as e^(−z²/2)).
     */
    public SlowDetector(double sustained, int streams) {
        this.sustained = sustained;
        this.z = Math.sqrt(Z * Z + 2 * Math.log(Math.max(1, streams)));
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
        double after = 0, highest = Double.NEGATIVE_INFINITY, afterTime = 0;
        for (int n2 = 1; n2 <= Math.min(MAX_AFTER, count - MIN_BEFORE); n2++) {
            after += blocks[count - n2];
            highest = Math.max(highest, blocks[count - n2]);
            afterTime += sums[count - n2];
            if (n2 < 2 || afterTime < sustained) {
                continue;
            }
            int n1 = count - n2;
            // Before: the median, so a block of glitch-fast steps does not pull the baseline down.
            // After: the mean, without its highest block when that one stands out from the rest by more
            // than noise can (a burst of back-to-back spikes that covered a whole block).
            double before = median(Arrays.copyOf(blocks, n1));
            boolean burst = n2 >= 3 && highest - (after - highest) / (n2 - 1) > OUTLIER * noise;
            int kept = burst ? n2 - 1 : n2;
            double shift = (burst ? after - highest : after) / kept - before;
            double se = noise * Math.sqrt(MEDIAN_VARIANCE / n1 + 1.0 / kept);
            double z = shift / se;
            if (z >= this.z && Math.exp(shift + se) >= GATE && z > best && level(n2, before + shift / 2)) {
                best = z;
                found = new Slowdown(Math.exp(shift), z, (long) n2 * BLOCK);
            }
        }
        return found;
    }

    /**
     * Whether the last {@code n2} blocks moved as a level does: all of them above {@code halfway}
     * (halfway from the "before" mean to the "after" one), or all but a quarter when there are more than
     * four. A burst of back-to-back spikes can cover one whole block and lift the mean of two; a slower
     * device lifts every block.
     */
    private boolean level(int n2, double halfway) {
        int below = 0;
        for (int j = count - n2; j < count; j++) {
            if (blocks[j] < halfway) {
                below++;
            }
        }
        return below <= (n2 <= 4 ? 0 : n2 / 4);
    }

    /**
     * The noise of one block minimum, as a standard deviation: from the differences of neighbouring
     * blocks (median absolute difference), and from the steps' spread within their blocks (scaled to
     * the spread of a minimum of 7); the larger. The two scale factors are calibrated on normal draws
     * (200,000 blocks: the minimum of 7 varies 0.627 times as much as one draw; 1.4826 times the
     * median distance of a step from its block's median is 0.819 of one draw, and the neighbours'
     * estimate comes out 2% low, the minimum being skewed), so that neither is low: a noise taken too
     * low makes noise look significant.
     */
    private double noise() {
        double[] d = new double[count - 1];
        for (int i = 1; i < count; i++) {
            d[i - 1] = Math.abs(blocks[i] - blocks[i - 1]);
        }
        double neighbours = 1.02 * 1.4826 * median(d) / Math.sqrt(2);
        double steps = (0.627 / 0.819) * 1.4826 * median(java.util.Arrays.copyOf(spread, count * BLOCK));
        return Math.max(MIN_NOISE, Math.max(neighbours, steps));
    }

    /** The median of {@code v} (sorted in place). */
    private static double median(double[] v) {
        Arrays.sort(v);
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }
}
