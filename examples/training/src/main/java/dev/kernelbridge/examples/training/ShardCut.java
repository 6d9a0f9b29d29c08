package dev.kernelbridge.examples.training;

import java.util.Arrays;

/**
 * How a global batch is cut into the ranks' shards: equal at first, then following each rank's
 * measured compute time per sample (the median of its last {@value #WINDOW} steps: a GC pause or a
 * neighbour's burst moves a median little, an average a lot), so that a slower device gets fewer samples and no rank waits long
 * for another at the all-reduce. The cut is a pure function of the measurements, and every rank is
 * given the same measurements (they travel in the gradient all-reduce), so every rank computes the
 * same cut without another message — in-process and under MPI alike. Any cut gives the same loss
 * bits: every term of the gradient sum is exact ({@link FixedPoint}).
 *
 * <p>Not thread-safe: one per rank.
 */
final class ShardCut {
    /** Steps of measurements a rank's speed is the median of. */
    static final int WINDOW = 9;
    /** A new cut replaces the current one only if it shortens the predicted step by at least this share (noise makes no churn). */
    static final double MIN_GAIN = 0.03;

    private final int globalBatch;
    private final int every;
    private final double[][] recent;
    private final double[] secondsPerSample;
    private int seen;
    private int[] sizes;
    private long recuts;

    /** @param every re-cut every this many steps from the measurements; 0 keeps equal shards */
    ShardCut(int globalBatch, int ranks, int every) {
        this.globalBatch = globalBatch;
        this.every = every;
        this.secondsPerSample = new double[ranks];
        this.recent = new double[ranks][WINDOW];
        this.sizes = equal(globalBatch, ranks);
    }

    static int[] equal(int globalBatch, int ranks) {
        int[] s = new int[ranks];
        for (int r = 0; r < ranks; r++) {
            s[r] = globalBatch / ranks + (r < globalBatch % ranks ? 1 : 0);
        }
        return s;
    }

    /** A fixed cut (tests and measurements); no re-cut follows. */
    static ShardCut fixed(int[] sizes) {
        ShardCut c = new ShardCut(Arrays.stream(sizes).sum(), sizes.length, 0);
        c.sizes = sizes.clone();
        return c;
    }

    int size(int rank) {
        return sizes[rank];
    }

    /** The first sample of {@code rank}'s shard within the global batch. */
    int offset(int rank) {
        int o = 0;
        for (int r = 0; r < rank; r++) {
            o += sizes[r];
        }
        return o;
    }

    int[] sizes() {
        return sizes.clone();
    }

    long recuts() {
        return recuts;
    }

    /**
     * Takes step {@code step}'s (0-based) measured seconds per sample of every rank (the same array on
     * every rank) and, every {@code every} steps, cuts anew.
     */
    void measured(long step, double[] measured) {
        if (every == 0) {
            return;
        }
        int slot = seen++ % WINDOW, n = Math.min(seen, WINDOW);
        for (int r = 0; r < measured.length; r++) {
            double x = measured[r];
            recent[r][slot] = x > 0 && !Double.isInfinite(x) ? x : recent[r][(slot + WINDOW - 1) % WINDOW];
            double[] sorted = Arrays.copyOf(recent[r], n);
            Arrays.sort(sorted);
            secondsPerSample[r] = n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
        }
        if ((step + 1) % every != 0 || Arrays.stream(secondsPerSample).anyMatch(s -> !(s > 0))) {
            return;
        }
        int[] next = cut(globalBatch, secondsPerSample);
        if (!Arrays.equals(next, sizes) && predicted(next) < (1 - MIN_GAIN) * predicted(sizes)) {
            sizes = next;
            recuts++;
        }
    }

    private double predicted(int[] cut) {
        double worst = 0;
        for (int r = 0; r < cut.length; r++) {
            worst = Math.max(worst, cut[r] * secondsPerSample[r]);
        }
        return worst;
    }

    /**
     * The cut that gives each rank a share proportional to its speed (1 / seconds per sample), each at
     * least one sample, rounded by largest remainder (ties to the lower rank). Deterministic.
     */
    static int[] cut(int globalBatch, double[] secondsPerSample) {
        int ranks = secondsPerSample.length;
        double total = 0;
        for (double s : secondsPerSample) {
            total += 1 / s;
        }
        int[] sizes = new int[ranks];
        double[] remainder = new double[ranks];
        int spare = globalBatch - ranks; // one sample each first
        int given = 0;
        for (int r = 0; r < ranks; r++) {
            double ideal = spare * (1 / secondsPerSample[r]) / total;
            sizes[r] = 1 + (int) Math.floor(ideal);
            remainder[r] = ideal - Math.floor(ideal);
            given += sizes[r] - 1;
        }
        for (int left = spare - given; left > 0; left--) {
            int best = 0;
            for (int r = 1; r < ranks; r++) {
                if (remainder[r] > remainder[best]) {
                    best = r;
                }
            }
            sizes[best]++;
            remainder[best] = -1;
        }
        return sizes;
    }
}
