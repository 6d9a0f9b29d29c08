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
 */
public record FaultPlan(long failEvery, long loseAt, long hangEvery, long corruptEvery, long oomEvery, Duration latency, long latencyFrom,
                        long times, long failCall, FailureKind failAs) {

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
                default -> throw bad(spec, "unknown fault '" + name
                        + "' (known: fail-every, lose-at, hang, hang-every, corrupt-every, oom-every, latency, latency-from, times, fail-call, as)");
            }
        }
        return new FaultPlan(fail, lose, hang, corrupt, oom, latency, latencyFrom, times, failCall, failAs);
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

    private static IllegalArgumentException bad(String spec, String rule) {
        return new IllegalArgumentException("kernelbridge.faults: " + rule + " (in '" + spec + "')");
    }
}
