package dev.kernelbridge.internal.dispatch;

/**
 * Whether the adaptive SPLIT divides the next GEMM of a shape class or gives it to the best device
 * alone, learned from what each has measured on this machine. The rule:
 * <ul>
 *   <li>Split while the split's throughput (smoothed) beats the best device alone by at least
 *       {@value #MARGIN_PERCENT} % — a split that only ties costs copies and a second device for
 *       nothing, and on a shared machine a tie is noise.</li>
 *   <li>Every so often try the other choice, so that a change (a device freed, slowed, added) is
 *       seen: first every {@value #FIRST_INTERVAL} calls; each time the choice has held since the
 *       last try, half as often, down to one call in {@value #LAST_INTERVAL}; when it flips, often
 *       again. Where splitting never pays it is tried about twenty times in the first 10⁴ calls
 *       (one call in five hundred), then once in {@value #LAST_INTERVAL}.</li>
 * </ul>
 * Not thread-safe: {@link Placement} holds its class's lock.
 */
final class SplitChoice {
    static final int MARGIN_PERCENT = 5;
    static final int FIRST_INTERVAL = 4;
    static final int LAST_INTERVAL = 1024;

    private double splitGflops;
    private int splitSamples;
    private long interval = FIRST_INTERVAL;
    private long nextTry = FIRST_INTERVAL;
    private boolean lastChoice = true;
    /** The split now running is a try against the choice: its measurement stands alone. */
    private boolean trying;

    /** For call number {@code call} (1, 2, …): true to split, false for the best device alone at {@code soloGflops}. */
    boolean split(long call, double soloGflops) {
        boolean pays = splitGflops == 0 || splitGflops >= soloGflops * (1 + MARGIN_PERCENT / 100.0);
        if (call < nextTry) {
            return pays;
        }
        interval = pays == lastChoice ? Math.min(LAST_INTERVAL, interval * 2) : FIRST_INTERVAL;
        lastChoice = pays;
        nextTry = call + interval;
        trying = !pays;
        return !pays; // the other choice, once
    }

    /**
     * A split's measured throughput. The first cuts follow guesses (tuning figures, equal shares) and
     * are badly balanced, so until a few splits have been measured the newest counts alone; so does
     * a try after a stretch without splits, whose old figure says nothing about the machine now.
     */
    void record(double gflops) {
        boolean alone = splitSamples < 3 || splitGflops == 0 || trying;
        trying = false;
        splitGflops = alone ? gflops : 0.5 * splitGflops + 0.5 * gflops;
        splitSamples++;
    }

    double splitGflops() { return splitGflops; }
}
