package dev.kernelbridge.internal.dispatch;

import dev.kernelbridge.DeviceMetrics;
import dev.kernelbridge.HealthState;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

/**
 * The health record of one device: counters, live throughput per shape class, and the state machine
 * HEALTHY → DEGRADED → QUARANTINED (→ probe → HEALTHY), or LOST for good. Transitions are reported
 * to {@link Telemetry}. Thread-safe (one lock per device; held for microseconds).
 */
final class Health {
    /** Weight of the newest sample in the throughput averages. */
    private static final double EWMA = 0.3;
    /** Throughput below this fraction of the device's own best for a class is drift. */
    private static final double DRIFT = 0.5;
    private static final int DRIFT_SAMPLES = 8;
    /** Calls shorter than this are timed by jitter (JIT, GC, scheduling) more than by the device: no drift verdicts. */
    private static final long DRIFT_MIN_NANOS = 1_000_000;
    /**
     * Drift must be sustained to count: this many consecutive slow calls adding up to at least
     * {@link #DRIFT_SUSTAINED_NANOS} of device time. A JIT recompilation, a GC pause or a neighbour's
     * burst slows a run of calls for a moment; a throttling or failing device stays slow.
     */
    private static final int DRIFT_RUN = 16;
    private static final long DRIFT_SUSTAINED_NANOS = 1_000_000_000L;
    private static final int RECOVERY_SUCCESSES = 3;
    private static final Duration MAX_BACKOFF = Duration.ofMinutes(5);

    /** A slowdown at least this large drains the device; a smaller one (from the 10% gate up) rebalances. */
    static final double DRAIN_SLOWDOWN = 1.5;
    /** Calls within this fraction of the learned size are compared by the fail-slow detector. */
    private static final double SAME_SIZE = 0.10;
    /** Calls in a row of another size after which the detector learns that size afresh. */
    private static final int OTHER_SIZE_RESET = 14;

    /** Live throughput of one shape class. The first sample is warm-up (kernel builds, caches) and is dropped. */
    static final class Rate {
        /** Fail-slow detection on this class's time per flop. */
        final dev.kernelbridge.internal.foresight.SlowDetector slow = new dev.kernelbridge.internal.foresight.SlowDetector(DRIFT_SUSTAINED_NANOS);
        /** The work of the calls the detector learned on: the scale its times are put on. */
        double typicalFlops;
        /** Calls in a row of another size than {@link #typicalFlops}. */
        int otherSize;
        /** Whether a slowdown below the drain threshold was reported for this class. */
        boolean rebalanced;
        boolean warm;
        int samples;
        double gflops;
        double best;
        long lastNanos;
        int driftRun;
        long driftNanos;
    }

    private final String device;
    private final Telemetry telemetry;
    private final int failuresToQuarantine;
    private final Duration firstProbe;
    private final Map<Long, Rate> rates = new HashMap<>();
    private long lastClass;
    private Rate lastRate;
    /** Written under the lock, read without it: dispatch looks at it on every call. */
    private volatile HealthState state = HealthState.HEALTHY;
    private String reason = "";
    private long launches, failures, timeouts, corruptions, failoversFrom, failoversTo, probes;
    /** Written under the lock; read without it by the untimed-success fast path. */
    private volatile int consecutiveFailures;
    private int successesSinceTrouble;
    /** Untimed successes of a healthy device with nothing to reset: counted without the lock. */
    private final java.util.concurrent.atomic.LongAdder quietLaunches = new java.util.concurrent.atomic.LongAdder();
    /** The rules on the device's telemetry. */
    private final dev.kernelbridge.internal.foresight.TrendRule trend = new dev.kernelbridge.internal.foresight.TrendRule();
    /** Corrected errors when the trend rule drained the device (-1: not drained by it): a probe passes only if they stopped rising. */
    private long correctedAtDrain = -1;
    /** The usual corrected errors per window of launches when the trend rule drained the device: what a soak may show. */
    private double usualAtDrain;
    private boolean trendWarned;
    /** Whether another device could take this one's work now: a drain that leaves none is not made. */
    private volatile java.util.function.BooleanSupplier othersCanWork = () -> false;
    /** Whether a lasting slowdown may drain this device (not the CPU's: its slowness is the machine's load). */
    private volatile boolean slownessDrains = true;
    private long probeDueNanos;
    private Duration backoff;
    private boolean probing;

    Health(String device, Telemetry telemetry, int failuresToQuarantine, Duration firstProbe) {
        this.device = device;
        this.telemetry = telemetry;
        this.failuresToQuarantine = failuresToQuarantine;
        this.firstProbe = firstProbe;
        this.backoff = firstProbe;
    }

    /** How the rules that look ahead may act on this device (see the fields); set once, by the scheduler. */
    void foresight(java.util.function.BooleanSupplier othersCanWork, boolean slownessDrains) {
        this.othersCanWork = othersCanWork;
        this.slownessDrains = slownessDrains;
    }

    /** Whether a drain can be made now: the device is in service and another device can take its work. */
    private boolean canDrain() {
        return state.dispatchable() && othersCanWork.getAsBoolean();
    }

    HealthState state() { return state; }

    boolean dispatchable() { return state.dispatchable(); }

    /** The live throughput for a class, or 0 when not measured yet. */
    synchronized double gflops(long shapeClass) {
        Rate r = rate(shapeClass, false);
        return r == null || r.samples == 0 ? 0 : r.gflops;
    }

    /** When the class was last measured (0: never), for re-measuring the stalest. */
    synchronized long lastMeasured(long shapeClass) {
        Rate r = rate(shapeClass, false);
        return r == null ? 0 : r.lastNanos;
    }

    /** A launch that worked, taking {@code nanos} for {@code flops}; nanos = 0 counts it without timing it. */
    void success(long shapeClass, double flops, long nanos) {
        if (nanos == 0 && state == HealthState.HEALTHY && consecutiveFailures == 0) {
            quietLaunches.increment(); // nothing to time, reset or recover: the common case of a small GEMM
            return;
        }
        timedSuccess(shapeClass, flops, nanos);
    }

    private synchronized void timedSuccess(long shapeClass, double flops, long nanos) {
        launches++;
        consecutiveFailures = 0;
        Rate r = nanos > 0 ? rate(shapeClass, true) : null;
        if (r != null) {
            r.lastNanos = System.nanoTime();
            if (!r.warm) {
                r.warm = true;
            } else {
                double g = flops / nanos;
                r.gflops = r.samples == 0 ? g : (1 - EWMA) * r.gflops + EWMA * g;
                r.samples++;
                r.best = Math.max(r.best, r.gflops);
                if (nanos >= DRIFT_MIN_NANOS && slowedDown(shapeClass, r, nanos, flops)) {
                    return;
                }
            }
        }
        boolean slow = r != null && nanos >= DRIFT_MIN_NANOS && r.samples >= DRIFT_SAMPLES && r.gflops < DRIFT * r.best;
        if (r != null) {
            r.driftRun = slow ? r.driftRun + 1 : 0;
            r.driftNanos = slow ? r.driftNanos + nanos : 0;
        }
        boolean drifting = slow && r.driftRun >= DRIFT_RUN && r.driftNanos >= DRIFT_SUSTAINED_NANOS;
        if (state == HealthState.HEALTHY && drifting) {
            move(HealthState.DEGRADED, String.format("latency drift: %s at %.1f GFLOP/s, its best %.1f", ShapeClass.describe(shapeClass), r.gflops, r.best));
        } else if (state == HealthState.DEGRADED && !slow && ++successesSinceTrouble >= RECOVERY_SUCCESSES) {
            move(HealthState.HEALTHY, successesSinceTrouble + " successful launches");
        }
    }

    /**
     * Feeds the fail-slow detector; once it has a verdict for the class (raised as later blocks show
     * more), a slowdown of {@value #DRAIN_SLOWDOWN}× or more drains the device, a smaller one
     * rebalances, warned once (placement and split cuts already follow the measured speed). True when drained.
     */
    private boolean slowedDown(long shapeClass, Rate r, long nanos, double flops) {
        // Calls of a class differ in size by up to 8x, and a smaller call runs fewer flops per second
        // on the same device: only calls within 10% of the size the detector learned on are compared.
        // When the work itself changes size for good (a rebalanced shard), the detector starts again.
        if (r.typicalFlops == 0) {
            r.typicalFlops = flops;
        }
        if (Math.abs(flops / r.typicalFlops - 1) > SAME_SIZE) {
            if (++r.otherSize >= OTHER_SIZE_RESET) {
                r.slow.reset();
                r.typicalFlops = flops;
                r.otherSize = 0;
            }
            return false;
        }
        r.otherSize = 0;
        dev.kernelbridge.internal.foresight.SlowDetector.Slowdown v = r.slow.add(nanos * (r.typicalFlops / flops));
        if (v == null) {
            return false;
        }
        String what = String.format(java.util.Locale.ROOT, "fail-slow: %s %.2fx slower than before for the last ~%d launches (z = %.1f)",
                ShapeClass.describe(shapeClass), v.factor(), v.sinceSteps(), v.z());
        if (v.factor() >= DRAIN_SLOWDOWN && slownessDrains && canDrain()) {
            telemetry.foresight(device, "fail-slow", "drain", what);
            quarantine("drained, " + what);
            return true;
        }
        if (!r.rebalanced) {
            r.rebalanced = true; // once per class: the warning says what happens from now on
            telemetry.foresight(device, "fail-slow", "rebalance", what + "; its share of split work follows its measured speed"
                    + (v.factor() < DRAIN_SLOWDOWN ? "" : slownessDrains ? "; not drained: no other device can take its work"
                    : "; not drained: the CPU's slowness is the load of the machine"));
        }
        return false;
    }

    /**
     * The device's telemetry at the end of a window of launches; drains the device when a trend rule
     * fires (see {@link dev.kernelbridge.internal.foresight.TrendRule}).
     */
    synchronized void telemetryWindow(dev.kernelbridge.DeviceTelemetry now) {
        String why = trend.window(now);
        if (why != null && state.dispatchable() && !canDrain() && !trendWarned) {
            trendWarned = true;
            telemetry.foresight(device, "trend", "warn", why + "; not drained: no other device can take its work");
        }
        if (why != null && canDrain()) {
            correctedAtDrain = now.correctedMemoryErrors();
            usualAtDrain = trend.usual();
            telemetry.foresight(device, "trend", "drain", why);
            quarantine("drained, " + why);
        }
    }

    /** Whether the trend rule drained the device: its probe must then soak (see {@link #stillDrained}). */
    synchronized boolean drainedByTrend() {
        return correctedAtDrain >= 0;
    }

    /**
     * Why a device the trend rule drained must stay out, or null. {@code before} and {@code after}
     * are its telemetry around a soak of one window of probe launches: failing memory errs as it is
     * used, so an idle device says little. It stays out if its corrected errors rose while it was idle,
     * or if the soak showed more than the usual rate it had before the trend began.
     */
    synchronized String stillDrained(dev.kernelbridge.DeviceTelemetry before, dev.kernelbridge.DeviceTelemetry after) {
        if (correctedAtDrain < 0 || before.correctedMemoryErrors() < 0 || after.correctedMemoryErrors() < 0) {
            return null;
        }
        long idle = before.correctedMemoryErrors() - correctedAtDrain;
        long soak = after.correctedMemoryErrors() - before.correctedMemoryErrors();
        correctedAtDrain = after.correctedMemoryErrors();
        if (idle > 0) {
            return idle + " more corrected memory errors while it was drained";
        }
        return soak > usualAtDrain ? String.format(java.util.Locale.ROOT, "%d corrected memory errors in a soak of %d launches, against a usual %.2f",
                soak, dev.kernelbridge.internal.foresight.TrendRule.WINDOW, usualAtDrain) : null;
    }

    /** The rate of a class (created when asked); the last one is kept at hand, as calls come in runs of one shape. */
    private Rate rate(long shapeClass, boolean create) {
        if (lastRate != null && lastClass == shapeClass) {
            return lastRate;
        }
        Rate r = create ? rates.computeIfAbsent(shapeClass, x -> new Rate()) : rates.get(shapeClass);
        if (r != null) {
            lastClass = shapeClass;
            lastRate = r;
        }
        return r;
    }

    /** A device error that may pass (launch failure, out of resources). */
    synchronized void failure(String what) {
        launches++;
        failures++;
        successesSinceTrouble = 0;
        if (++consecutiveFailures >= failuresToQuarantine) {
            quarantine(consecutiveFailures + " consecutive failures, last: " + what);
        } else if (state == HealthState.HEALTHY) {
            move(HealthState.DEGRADED, what);
        }
    }

    /** Out of memory: the work goes elsewhere but the device is not at fault. */
    synchronized void outOfMemory() {
        launches++;
    }

    /** A missed deadline: the device is suspect and must pass a probe before it gets work again. */
    synchronized void timeout(String what) {
        launches++;
        timeouts++;
        quarantine(what);
    }

    /** A result that a second device contradicts. */
    synchronized void corruption(String what) {
        corruptions++;
        quarantine(what);
    }

    /** A sticky fault or a vanished device: never used again in this process. */
    synchronized void lost(String what) {
        launches++;
        failures++;
        if (state != HealthState.LOST) {
            move(HealthState.LOST, what);
        }
    }

    synchronized void failoverFrom() { failoversFrom++; }

    synchronized void failoverTo() { failoversTo++; }

    private void quarantine(String why) {
        successesSinceTrouble = 0;
        if (state == HealthState.LOST) {
            return;
        }
        if (state != HealthState.QUARANTINED) {
            backoff = firstProbe;
            move(HealthState.QUARANTINED, why);
        }
        probeDueNanos = System.nanoTime() + backoff.toNanos();
    }

    /** True (once, until {@link #probed}) when a quarantined device's probe is due. */
    synchronized boolean claimProbe(boolean evenIfEarly) {
        if (state != HealthState.QUARANTINED || probing || (!evenIfEarly && System.nanoTime() < probeDueNanos)) {
            return false;
        }
        probing = true;
        return true;
    }

    synchronized void probed(boolean passed, String detail) {
        probing = false;
        probes++;
        if (state != HealthState.QUARANTINED) {
            return;
        }
        if (passed) {
            consecutiveFailures = 0;
            rates.clear();
            lastRate = null;
            trend.reset();
            correctedAtDrain = -1;
            move(HealthState.HEALTHY, "probe passed: " + detail);
        } else {
            backoff = backoff.multipliedBy(2).compareTo(MAX_BACKOFF) > 0 ? MAX_BACKOFF : backoff.multipliedBy(2);
            probeDueNanos = System.nanoTime() + backoff.toNanos();
            reason = "probe failed: " + detail + "; next probe in " + backoff.toMillis() + " ms";
        }
    }

    private void move(HealthState to, String why) {
        HealthState from = state;
        state = to;
        reason = why;
        telemetry.healthChanged(device, from, to, why);
    }

    synchronized DeviceMetrics snapshot() {
        Map<String, Double> t = new HashMap<>();
        rates.forEach((k, r) -> {
            if (r.samples > 0) {
                t.put(ShapeClass.describe(k), Math.round(r.gflops * 10) / 10.0);
            }
        });
        return new DeviceMetrics(device, state, reason, launches + quietLaunches.sum(), failures, timeouts, corruptions, failoversFrom, failoversTo, probes, t);
    }
}
