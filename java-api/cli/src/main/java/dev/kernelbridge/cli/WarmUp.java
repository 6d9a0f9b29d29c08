package dev.kernelbridge.cli;

import java.util.Arrays;

/**
 * Warm-up until the timing has settled, and what the timed runs then say. A cold JVM times the
 * interpreter and the JIT, not the device (a 32³ GEMM once printed 0.35 GFLOP/s): rounds go on until
 * the last {@value #WINDOW} agree within {@value #TOLERANCE_PERCENT}% and at least 1 s has passed, or
 * until {@value #LIMIT_SECONDS} s. The second rule matters: the Vector API kernels run interpreted, a
 * thousand times slower and quite steadily, until C2 compiles them — here between 0.3 and 1 s into a
 * loop of 32³ GEMMs, which "settled" at 100 µs a call before that and 1.7 µs after. Not thread-safe.
 */
final class WarmUp {
    static final int WINDOW = 5;
    static final int TOLERANCE_PERCENT = 10;
    static final int LIMIT_SECONDS = 5;
    private static final long MIN_NANOS = 1_000_000_000L;

    private final long start = System.nanoTime();
    private final long[] recent = new long[WINDOW];
    private long rounds;

    /** Records one round's time; true while warm-up should go on. */
    boolean goOn(long nanos) {
        recent[(int) (rounds++ % WINDOW)] = nanos;
        long elapsed = System.nanoTime() - start;
        if (elapsed >= LIMIT_SECONDS * 1_000_000_000L) {
            return false;
        }
        return elapsed < MIN_NANOS || !settled();
    }

    boolean settled() {
        if (rounds < WINDOW) {
            return false;
        }
        long min = Arrays.stream(recent).min().orElseThrow(), max = Arrays.stream(recent).max().orElseThrow();
        return max * 100 <= min * (100 + TOLERANCE_PERCENT);
    }

    /** Runs {@code op} until the timing settles. Not for collectives: see AllReduceRun.agreedWarmUp. */
    static void run(Runnable op) {
        WarmUp w = new WarmUp();
        long t0;
        do {
            t0 = System.nanoTime();
            op.run();
        } while (w.goOn(System.nanoTime() - t0));
    }

    /** Median, quartiles, fastest and slowest of the timed runs, in seconds. */
    record Spread(double median, double q1, double q3, double min, double max) {
        static Spread of(double[] seconds) {
            if (seconds.length == 0) {
                return new Spread(Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN);
            }
            double[] s = seconds.clone();
            Arrays.sort(s);
            return new Spread(quantile(s, 0.5), quantile(s, 0.25), quantile(s, 0.75), s[0], s[s.length - 1]);
        }

        /** Linear interpolation between the closest ranks of sorted {@code s}. */
        private static double quantile(double[] s, double p) {
            double at = p * (s.length - 1);
            int lo = (int) Math.floor(at), hi = (int) Math.ceil(at);
            return s[lo] + (s[hi] - s[lo]) * (at - lo);
        }

        /** The interquartile range over the median: one stray run (a GC pause, a timer tick) does not widen it. */
        double relative() {
            return median > 0 ? (q3 - q1) / median : 0;
        }

        /** Wider than 20%: a busy machine, or too few runs; the figure is a rough one. */
        boolean wide() {
            return relative() > 0.2;
        }

        String describe(int runs) {
            return describe(runs, "--repeat");
        }

        /** As {@link #describe(int)}, naming the job's option for the number of timed runs. */
        String describe(int runs, String option) {
            return runs < 2 ? "one timed run" : String.format(java.util.Locale.ROOT, "median of %d, interquartile range %.0f%%%s", runs,
                    100 * relative(), wide() ? " (wide: a busy machine? repeat with more " + option + ")" : "");
        }
    }
}
