package dev.kernelbridge.internal.foresight;

import dev.kernelbridge.DeviceTelemetry;

/**
 * The rules that drain a device before it fails, from its telemetry read once per window of
 * {@value #WINDOW} launches. Each returns the reason to drain, or null:
 *
 * <ul>
 *   <li><b>A rising corrected-error rate.</b> The device's usual rate λ per window is learned from
 *       its first {@value #BASELINE_WINDOWS} windows and every window more than {@value #RECENT} windows
 *       old, so a ramp is compared with what came before it, not with itself (at least
 *       one error per {@value #RATE_FLOOR_WINDOWS} windows is assumed, so a device that never erred
 *       is not drained for its first one), taken two standard errors above its estimate. A Poisson CUSUM weighs each window's count c as evidence
 *       for a doubled rate, c·ln 2 − λ, and keeps the running sum above zero; when it reaches
 *       {@value #EVIDENCE} (a likelihood ratio of e^10, a false drain once in tens of thousands of
 *       windows) the device is drained. Corrected errors that climb are how HBM and DRAM pages
 *       announce the uncorrectable error that follows; evidence that accumulates sees a slow ramp
 *       long before any single window looks alarming.</li>
 *   <li><b>Any new uncorrected error</b>, and <b>spare rows at or below {@value #SPARE_ROWS_FLOOR}</b>:
 *       the next bad row cannot be remapped.</li>
 *   <li><b>Repeated driver events:</b> {@value #DRIVER_EVENTS} or more within {@value #DRIVER_WINDOWS} windows.</li>
 * </ul>
 * Not thread-safe: one per device, fed under the device's lock.
 */
public final class TrendRule {
    public static final int WINDOW = 20;
    static final int BASELINE_WINDOWS = 5;
    static final int RATE_FLOOR_WINDOWS = 4;
    static final double EVIDENCE = 10;
    /** Windows that do not yet count towards the usual rate: about the span of a ramp the rule must see as a change. */
    static final int RECENT = 10;
    static final long SPARE_ROWS_FLOOR = 1;
    static final int DRIVER_EVENTS = 3;
    static final int DRIVER_WINDOWS = 10;

    private DeviceTelemetry last;
    private int windows;
    private long quietWindows;
    private long quietErrors;
    private double evidence;
    /** The errors of the last {@value #RECENT} windows: they join the usual rate only once they are older. */
    private final long[] recent = new long[RECENT];
    private final long[] driverEventsPerWindow = new long[DRIVER_WINDOWS];

    /** Feeds the telemetry read at the end of a window; the reason to drain, or null. */
    public String window(DeviceTelemetry now) {
        DeviceTelemetry before = last;
        last = now;
        if (before == null) {
            return null; // the first reading is the starting point of every counter
        }
        windows++;
        long ce = delta(before.correctedMemoryErrors(), now.correctedMemoryErrors());
        long ue = delta(before.uncorrectedMemoryErrors(), now.uncorrectedMemoryErrors());
        long driver = delta(before.driverEvents(), now.driverEvents());
        driverEventsPerWindow[windows % DRIVER_WINDOWS] = Math.max(0, driver);
        if (ue > 0) {
            return ue + " new uncorrected memory error" + (ue == 1 ? "" : "s");
        }
        if (now.spareRowsLeft() >= 0 && now.spareRowsLeft() <= SPARE_ROWS_FLOOR) {
            return "spare memory rows running out (" + now.spareRowsLeft() + " left)";
        }
        long recentDriver = 0;
        for (long e : driverEventsPerWindow) {
            recentDriver += e;
        }
        if (recentDriver >= DRIVER_EVENTS) {
            return recentDriver + " driver error events within " + DRIVER_WINDOWS * WINDOW + " launches";
        }
        if (ce < 0) {
            return null; // not reported
        }
        if (windows <= BASELINE_WINDOWS) {
            quietWindows++;
            quietErrors += ce;
            return null;
        }
        double usual = usual();
        evidence = Math.max(0, evidence + ce * Math.log(2) - usual);
        int slot = (int) (windows % RECENT);
        if (windows > BASELINE_WINDOWS + RECENT) {
            quietWindows++; // the window RECENT windows back is old enough to be the usual
            quietErrors += recent[slot];
        }
        recent[slot] = ce;
        if (evidence >= EVIDENCE) {
            return String.format(java.util.Locale.ROOT, "corrected memory errors rising: %d in the last %d launches against a usual %.2f",
                    ce, WINDOW, usual);
        }
        return null;
    }

    /**
     * The usual corrected errors per window, taken at the top of its uncertainty (two standard
     * errors): from a few windows it can come out low by chance, and evidence measured against too low
     * a rate grows by itself. At least one error per {@value #RATE_FLOOR_WINDOWS} windows.
     */
    public double usual() {
        double mean = quietWindows == 0 ? 0 : (double) quietErrors / quietWindows;
        return Math.max(1.0 / RATE_FLOOR_WINDOWS, mean + 2 * Math.sqrt(Math.max(mean, 1.0 / RATE_FLOOR_WINDOWS) / Math.max(1, quietWindows)));
    }

    /** Starts again (the device came back from a drain): the next reading is a new starting point. */
    public void reset() {
        last = null;
        windows = 0;
        quietWindows = 0;
        quietErrors = 0;
        evidence = 0;
        java.util.Arrays.fill(recent, 0);
        java.util.Arrays.fill(driverEventsPerWindow, 0);
    }

    private static long delta(long before, long now) {
        return before < 0 || now < 0 ? -1 : Math.max(0, now - before);
    }
}
