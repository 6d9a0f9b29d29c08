package dev.kernelbridge.cli;

import java.util.Arrays;

/**
 * Warm-up until the timing has settled, and what the timed runs then say. A cold JVM times the
 * interpreter and the JIT, not the device (a 32³ GEMM once printed 0.35 GFLOP/s): rounds go on until
 * the last {@value #WINDOW} agree within {@value #TOLERANCE_PERCENT}% and at least 0.2 s has passed (the
 * JIT compiles small kernels after many calls), or until {@value #LIMIT_SECONDS} s. Not thread-safe.
 */
final class WarmUp {
    static final int WINDOW = 5;
    static final int TOLERANCE_PERCENT = 10;
    static final int LIMIT_SECONDS = 3;
    private static final long MIN_NANOS = 200_000_000L;

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

    /** Median, fastest and slowest of the timed runs, in seconds. */
    record Spread(double median, double min, double max) {
        static Spread of(double[] seconds) {
            double[] s = seconds.clone();
            Arrays.sort(s);
            double median = s.length == 0 ? Double.NaN : s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
            return new Spread(median, s.length == 0 ? Double.NaN : s[0], s.length == 0 ? Double.NaN : s[s.length - 1]);
        }

        /** (slowest - fastest) / median. */
        double relative() {
            return median > 0 ? (max - min) / median : 0;
        }

        /** Wider than 20%: a busy machine, or too few runs; the figure is a rough one. */
        boolean wide() {
            return relative() > 0.2;
        }

        String describe(int runs) {
            return runs < 2 ? "one timed run" : String.format(java.util.Locale.ROOT, "median of %d, spread %.0f%%%s", runs, 100 * relative(),
                    wide() ? " (wide: a busy machine? repeat with more --repeat)" : "");
        }
    }
}
