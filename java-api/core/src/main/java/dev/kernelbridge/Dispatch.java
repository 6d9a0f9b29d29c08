package dev.kernelbridge;

import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * How a host-memory GEMM ({@link Blas}) is placed on the devices of a bridge. Immutable.
 * <ul>
 *   <li>{@link Policy#PINNED}: on one device;</li>
 *   <li>{@link Policy#FASTEST} (default): on the healthy device with the best measured throughput for
 *       this shape class (each candidate is measured on first use, and re-measured now and then);</li>
 *   <li>{@link Policy#SPLIT}: the rows, columns or batch items of one GEMM divided across the devices in
 *       proportion to their live throughput — or on the fastest alone when splitting measures slower.</li>
 * </ul>
 * With fallback allowed (the default), work that fails or misses its deadline is re-run on the next
 * healthy device, the CPU last, and the caller gets the correct result; with fallback forbidden the
 * failure is thrown. Either way C is written only by a successful attempt.
 */
public final class Dispatch {
    public enum Policy { PINNED, FASTEST, SPLIT }

    private final Policy policy;
    private final List<String> devices;
    private final boolean fallback;
    private final Duration deadline;
    private final boolean alwaysSplit;

    private Dispatch(Policy policy, List<String> devices, boolean fallback, Duration deadline, boolean alwaysSplit) {
        this.policy = policy;
        this.devices = List.copyOf(devices);
        this.fallback = fallback;
        this.deadline = deadline;
        this.alwaysSplit = alwaysSplit;
    }

    private Dispatch(Policy policy, List<String> devices, boolean fallback, Duration deadline) {
        this(policy, devices, fallback, deadline, false);
    }

    /** The fastest healthy device of all. */
    public static Dispatch fastest() { return new Dispatch(Policy.FASTEST, List.of(), true, null); }

    /** Split across every healthy device. */
    public static Dispatch split() { return new Dispatch(Policy.SPLIT, List.of(), true, null); }

    /** Split across these devices only (failover may still use the others). */
    public static Dispatch split(List<Device> devices) {
        GemmChecks.requireNonNull(devices, "devices must not be null");
        if (devices.isEmpty()) {
            throw new IllegalArgumentException("devices must name at least one device to split across");
        }
        return new Dispatch(Policy.SPLIT, devices.stream().map(d -> {
            GemmChecks.requireNonNull(d, "devices must not contain null");
            return d.id();
        }).toList(), true, null);
    }

    /** Always on {@code device}. */
    public static Dispatch pinned(Device device) {
        GemmChecks.requireNonNull(device, "device must not be null");
        return new Dispatch(Policy.PINNED, List.of(device.id()), true, null);
    }

    /** A copy that re-runs failed work elsewhere ({@code true}) or throws the failure ({@code false}). */
    public Dispatch withFallback(boolean allowed) { return new Dispatch(policy, devices, allowed, deadline, alwaysSplit); }

    /**
     * A SPLIT that divides every GEMM across its devices even where that measures slower than the
     * best device alone (for operands too large for one device, or to keep every device busy).
     */
    public Dispatch alwaysSplit() {
        if (policy != Policy.SPLIT) {
            throw new IllegalStateException("alwaysSplit applies to a SPLIT dispatch, this one is " + policy);
        }
        return new Dispatch(policy, devices, fallback, deadline, true);
    }

    /** True when a SPLIT never falls back to the best device alone. */
    public boolean splitsAlways() { return alwaysSplit; }

    /**
     * A copy with a fixed deadline per attempt; the default (auto) is 60 s plus 10 s per GFLOP of the
     * attempt's work — only a device slower than 0.1 GFLOP/s counts as hung — generous for any honest
     * device and still finite.
     */
    public Dispatch withDeadline(Duration deadline) {
        GemmChecks.requireNonNull(deadline, "deadline must not be null");
        if (deadline.isNegative() || deadline.isZero()) {
            throw new IllegalArgumentException("deadline must be positive, got " + deadline);
        }
        return new Dispatch(policy, devices, fallback, deadline, alwaysSplit);
    }

    public Policy policy() { return policy; }

    /** Device ids the policy is restricted to; empty means every device. */
    public List<String> devices() { return devices; }

    public boolean fallback() { return fallback; }

    /** The fixed deadline per attempt, empty for auto. */
    public Optional<Duration> deadline() { return Optional.ofNullable(deadline); }

    /**
     * The dispatch {@code config} asks for: {@code kernelbridge.dispatch} = fastest | split |
     * split:ID,ID,… | pinned:ID; {@code kernelbridge.fallback} = allow | forbid;
     * {@code kernelbridge.gemm.deadline} = auto | a duration.
     */
    public static Dispatch fromConfig(Config config) {
        GemmChecks.requireNonNull(config, "config must not be null");
        String text = config.get(Config.DISPATCH).toLowerCase(Locale.ROOT);
        String head = text.contains(":") ? text.substring(0, text.indexOf(':')) : text;
        String tail = text.contains(":") ? text.substring(text.indexOf(':') + 1) : "";
        List<String> ids = Arrays.stream(tail.split(",")).map(String::trim).filter(s -> !s.isEmpty()).toList();
        Policy p = switch (head) {
            case "fastest" -> Policy.FASTEST;
            case "split" -> Policy.SPLIT;
            case "pinned" -> Policy.PINNED;
            default -> throw new IllegalArgumentException(Config.DISPATCH.property()
                    + " must be fastest, split, split:ID,... or pinned:ID, got '" + text + "'");
        };
        if (p == Policy.PINNED && ids.size() != 1) {
            throw new IllegalArgumentException(Config.DISPATCH.property() + " pinned needs exactly one device id (pinned:opencl:0), got '" + text + "'");
        }
        if (p == Policy.FASTEST && !ids.isEmpty()) {
            throw new IllegalArgumentException(Config.DISPATCH.property() + " fastest takes no devices, got '" + text + "'");
        }
        String fb = config.get(Config.FALLBACK).toLowerCase(Locale.ROOT);
        if (!fb.equals("allow") && !fb.equals("forbid")) {
            throw new IllegalArgumentException(Config.FALLBACK.property() + " must be allow or forbid, got '" + fb + "'");
        }
        String dl = config.get(Config.GEMM_DEADLINE);
        Duration deadline = dl.equalsIgnoreCase("auto") ? null : Config.parseDuration(dl, Config.GEMM_DEADLINE.property());
        return new Dispatch(p, ids, fb.equals("allow"), deadline);
    }

    @Override
    public String toString() {
        return policy.name().toLowerCase(Locale.ROOT) + (devices.isEmpty() ? "" : ":" + String.join(",", devices))
                + (alwaysSplit ? " (always)" : "") + (fallback ? "" : " (no fallback)") + (deadline == null ? "" : " deadline " + deadline);
    }
}
