package dev.kernelbridge.internal.faults;

import dev.kernelbridge.Config;
import java.time.Duration;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * What to break on one device, parsed from {@code kernelbridge.faults}:
 * {@code "opencl:1=fail-every:3,latency:20ms;cpu:0=hang,times:1"}. Entries per device:
 * <ul>
 *   <li>{@code fail-every:N} — every Nth launch fails with a device error (the device stays usable);</li>
 *   <li>{@code lose-at:N} — the Nth launch loses the device: it and every later one fail for good;</li>
 *   <li>{@code hang-every:N} ({@code hang} = every launch) — the launch blocks until the caller gives up;</li>
 *   <li>{@code corrupt-every:N} — the Nth launches succeed but one value of C is wrong;</li>
 *   <li>{@code oom-every:N} — every Nth allocation reports out of memory;</li>
 *   <li>{@code latency:D} — every launch takes D longer;</li>
 *   <li>{@code latency-from:N} — with latency, only from the Nth launch on (a device that slows down);</li>
 *   <li>{@code times:T} — stop injecting after T faults (so a probe can later pass);</li>
 *   <li>{@code fail-call:N} — the Nth device call (allocations and launches counted together) fails once,
 *       as {@code as:K} says: {@code oom} (out of memory), {@code allocation} (the allocation-failure code
 *       OpenCL reports), {@code resources} (out of resources) or {@code launch} (the default). A test
 *       sweeps N over every call of an operation to reach every error path.</li>
 * </ul>
 * Gradual trouble, the kind that gives warning (see {@link Gradual}), seeded by {@code seed:S}:
 * <ul>
 *   <li>{@code ce-trend:N} — from launch N the device's corrected memory errors (its telemetry) climb
 *       from {@code ce-base:R} per launch (default 0.1) to {@code ce-factor:F} times that (default: drawn
 *       from 10–50 by the seed) over {@code ce-ramp:L} launches (default 200); at launch N + L the device
 *       is lost, as an HBM page that finally fails;</li>
 *   <li>{@code step:D} — every launch takes at least D (the device's step time), times the factors below;</li>
 *   <li>{@code slow:F} with {@code slow-from:N} — from launch N, launches take F times as long;</li>
 *   <li>{@code noise:P%} — each launch's time varies by a log-normal factor of σ = P%;</li>
 *   <li>{@code spikes:P%} — a launch starts a spike with probability P%: 1 to 3 launches 1.5–3× slower.</li>
 * </ul>
 * And one fault of the work rather than the device: {@code poison-k:K} — every launch of a GEMM
 * whose inner dimension is K fails with a launch error, as a poisoned input would on any device
 * (put it on two unlike devices to see the scheduler blame the work instead of them).
 */
public record FaultPlan(long failEvery, long loseAt, long hangEvery, long corruptEvery, long oomEvery, Duration latency, long latencyFrom,
                        long times, long failCall, FailureKind failAs, Gradual gradual, long poisonK) {

    /**
     * The gradual faults: a corrected-error trend before a hard fault, a slowdown, noise and spikes
     * on a step time. Zero (or {@link Duration#ZERO}) where not planned.
     */
    public record Gradual(long ceTrendFrom, long ceRamp, double ceBase, double ceFactor, Duration step, double slow, long slowFrom,
                          double noise, double spikes, long seed) {
        public static final Gradual NONE = new Gradual(0, 200, 0.1, 0, Duration.ZERO, 1, 1, 0, 0, 0);

        /** Whether the plan changes the device's telemetry. */
        public boolean trend() { return ceTrendFrom > 0; }

        /** Whether the plan changes how long launches take. */
        public boolean timed() { return !step.isZero(); }
    }

    /** A plan without gradual faults. */
    public FaultPlan(long failEvery, long loseAt, long hangEvery, long corruptEvery, long oomEvery, Duration latency, long latencyFrom,
                     long times, long failCall, FailureKind failAs) {
        this(failEvery, loseAt, hangEvery, corruptEvery, oomEvery, latency, latencyFrom, times, failCall, failAs, Gradual.NONE, 0);
    }

    /** What an injected {@code fail-call} failure looks like: the exception type and the native code a real runtime gives. */
    public enum FailureKind { OOM, ALLOCATION, RESOURCES, LAUNCH }

    /** A plan without a {@code fail-call}. */
    public FaultPlan(long failEvery, long loseAt, long hangEvery, long corruptEvery, long oomEvery, Duration latency, long latencyFrom,
                     long times) {
        this(failEvery, loseAt, hangEvery, corruptEvery, oomEvery, latency, latencyFrom, times, 0, FailureKind.LAUNCH);
    }

    /** Plans per device id from the knob's value; empty when the knob is empty. */
    public static Map<String, FaultPlan> parse(String spec) {
        Map<String, FaultPlan> plans = new HashMap<>();
        if (spec == null || spec.isBlank()) {
            return plans;
        }
        for (String entry : spec.split(";")) {
            if (entry.isBlank()) {
                continue;
            }
            int eq = entry.indexOf('=');
            if (eq <= 0) {
                throw bad(spec, "each entry must be device=faults, got '" + entry.trim() + "'");
            }
            String device = entry.substring(0, eq).trim();
            plans.put(device, parseOne(spec, entry.substring(eq + 1)));
        }
        return plans;
    }

    private static FaultPlan parseOne(String spec, String faults) {
        long fail = 0, lose = 0, hang = 0, corrupt = 0, oom = 0, latencyFrom = 1, times = Long.MAX_VALUE, failCall = 0;
        Duration latency = Duration.ZERO;
        FailureKind failAs = FailureKind.LAUNCH;
        long ceTrend = 0, ceRamp = 200, slowFrom = 1, seed = 0, poisonK = 0;
        double ceBase = 0.1, ceFactor = 0, slow = 1, noise = 0, spikes = 0;
        Duration step = Duration.ZERO;
        for (String item : faults.split(",")) {
            String t = item.trim().toLowerCase(Locale.ROOT);
            if (t.isEmpty()) {
                continue;
            }
            int colon = t.indexOf(':');
            String name = colon < 0 ? t : t.substring(0, colon);
            String value = colon < 0 ? "" : t.substring(colon + 1);
            switch (name) {
                case "fail-every" -> fail = count(spec, name, value);
                case "lose-at" -> lose = count(spec, name, value);
                case "hang" -> hang = value.isEmpty() ? 1 : count(spec, name, value);
                case "hang-every" -> hang = count(spec, name, value);
                case "corrupt-every" -> corrupt = count(spec, name, value);
                case "oom-every" -> oom = count(spec, name, value);
                case "times" -> times = count(spec, name, value);
                case "latency" -> latency = Config.parseDuration(value, "latency in kernelbridge.faults");
                case "latency-from" -> latencyFrom = count(spec, name, value);
                case "fail-call" -> failCall = count(spec, name, value);
                case "as" -> failAs = kind(spec, value);
                case "ce-trend" -> ceTrend = count(spec, name, value);
                case "ce-ramp" -> ceRamp = count(spec, name, value);
                case "ce-base" -> ceBase = number(spec, name, value, 0);
                case "ce-factor" -> ceFactor = number(spec, name, value, 1);
                case "step" -> step = Config.parseDuration(value, "step in kernelbridge.faults");
                case "slow" -> slow = number(spec, name, value.endsWith("x") ? value.substring(0, value.length() - 1) : value, 1);
                case "slow-from" -> slowFrom = count(spec, name, value);
                case "noise" -> noise = percent(spec, name, value);
                case "spikes" -> spikes = percent(spec, name, value);
                case "seed" -> seed = count(spec, name, value);
                case "poison-k" -> poisonK = count(spec, name, value);
                default -> throw bad(spec, "unknown fault '" + name + "' (known: fail-every, lose-at, hang, hang-every, corrupt-every, oom-every,"
                        + " latency, latency-from, times, fail-call, as, ce-trend, ce-ramp, ce-base, ce-factor, step, slow, slow-from, noise, spikes, seed,"
                        + " poison-k)");
            }
        }
        if ((slow != 1 || noise > 0 || spikes > 0) && step.isZero()) {
            throw bad(spec, "slow, noise and spikes act on a step time: add step:D (e.g. step:2ms)");
        }
        return new FaultPlan(fail, lose, hang, corrupt, oom, latency, latencyFrom, times, failCall, failAs,
                new Gradual(ceTrend, ceRamp, ceBase, ceFactor, step, slow, slowFrom, noise, spikes, seed), poisonK);
    }

    private static FailureKind kind(String spec, String value) {
        for (FailureKind k : FailureKind.values()) {
            if (k.name().equalsIgnoreCase(value)) {
                return k;
            }
        }
        throw bad(spec, "as must be one of oom, allocation, resources, launch, got '" + value + "'");
    }

    private static long count(String spec, String name, String value) {
        try {
            long n = Long.parseLong(value);
            if (n >= 1) {
                return n;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw bad(spec, name + " must be a count >= 1, got '" + value + "'");
    }

    private static double number(String spec, String name, String value, double min) {
        try {
            double v = Double.parseDouble(value);
            if (v >= min && Double.isFinite(v)) {
                return v;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw bad(spec, name + " must be a number >= " + (min == (long) min ? String.valueOf((long) min) : min) + ", got '" + value + "'");
    }

    /** "10%" or "0.1", as a fraction in [0, 1). */
    private static double percent(String spec, String name, String value) {
        boolean pct = value.endsWith("%");
        double v = number(spec, name, pct ? value.substring(0, value.length() - 1) : value, 0);
        double fraction = pct ? v / 100 : v;
        if (fraction >= 1) {
            throw bad(spec, name + " must be below 100%, got '" + value + "'");
        }
        return fraction;
    }

    private static IllegalArgumentException bad(String spec, String rule) {
        return new IllegalArgumentException("kernelbridge.faults: " + rule + " (in '" + spec + "')");
    }
}
