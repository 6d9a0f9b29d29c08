package dev.kernelbridge;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Every knob of KernelBridge, read from system properties {@code kernelbridge.*}, else from the
 * mirrored environment variables {@code KERNELBRIDGE_*}, else a default. A snapshot: reading the
 * environment happens in {@link #fromEnvironment()} only. Backends declare their own knobs as
 * {@link Knob}s with the same prefix. Immutable and thread-safe.
 */
public final class Config {
    /** A named setting with its default and meaning. */
    public record Knob(String key, String defaultValue, String meaning) {
        /** The property name, "kernelbridge." + key. */
        public String property() { return "kernelbridge." + key; }

        /** The environment variable, "KERNELBRIDGE_" + key upper-cased with '.' as '_'. */
        public String environment() { return "KERNELBRIDGE_" + key.toUpperCase(Locale.ROOT).replace('.', '_').replace('-', '_'); }
    }

    public static final Knob BACKEND = new Knob("backend", "auto",
            "Backends to open, comma-separated names (cpu, opencl, cuda, ...), or auto for every available one.");
    public static final Knob CPU_THREADS = new Knob("cpu.threads", "0",
            "Threads of the CPU backend's GEMM; 0 means one per available processor.");
    public static final Knob CPU_VECTOR = new Knob("cpu.vector", "auto",
            "CPU kernels: auto (Vector API when jdk.incubator.vector is readable), or scalar.");
    public static final Knob COLLECTIVE_TIMEOUT = new Knob("collective.timeout", "60s",
            "Deadline of a collective call unless the call gives its own (e.g. 500ms, 30s, 2m, PT1M).");

    public static final Knob COLLECTIVE_VENDOR = new Knob("collective.vendor", "off",
            "allow: in-process all-reduces whose ranks are distinct devices of one backend may use the backend's engine (NCCL),"
                    + " faster but no longer bitwise identical across message sizes; off: KernelBridge's rank-order reductions.");
    public static final Knob TRANSPORT = new Knob("transport", "auto",
            "Engine of distributed collectives (worldCommunicators): auto for the first available, or a name (mpi).");
    public static final Knob CACHE_DIR = new Knob("cache.dir", "",
            "Where tuning results and compiled kernels are kept; empty means $XDG_CACHE_HOME/kernelbridge, else ~/.cache/kernelbridge.");

    public static final Knob DISPATCH = new Knob("dispatch", "fastest",
            "Placement of host-memory GEMMs: fastest, split, split:ID,ID,... or pinned:ID (see Dispatch).");
    public static final Knob FALLBACK = new Knob("fallback", "allow",
            "allow: failed work is re-run on the next healthy device, the CPU last; forbid: the failure is thrown.");
    public static final Knob GEMM_DEADLINE = new Knob("gemm.deadline", "auto",
            "Deadline of one GEMM attempt on a device: auto (60 s + 10 s per GFLOP: slower than 0.1 GFLOP/s counts as hung) or a duration.");
    public static final Knob HEALTH_FAILURES = new Knob("health.failures", "2",
            "Consecutive failures that quarantine a device (the first makes it DEGRADED); a missed deadline quarantines at once.");
    public static final Knob HEALTH_PROBE = new Knob("health.probe", "5s",
            "How long a quarantined device waits before its first verified probe GEMM; doubles after each failed probe, up to 5m.");
    public static final Knob SPARES = new Knob("spares", "",
            "Hot spares: ID,ID,... devices held back from work until a device in service is drained, quarantined or lost; then the first"
                    + " healthy spare holding its types takes its place at once (its pinned work too) and stands by again when it returns.");
    public static final Knob CANARY = new Knob("canary", "0",
            "Fraction of GEMMs (0 to 1) whose sampled tile is recomputed on a second device to catch silent corruption; 0 is off.");
    public static final Knob CANARY_TILE = new Knob("canary.tile", "32",
            "Rows and columns of the tile a canary recomputes.");
    public static final Knob FAULTS = new Knob("faults", "",
            "Fault injection for tests and demos: device=faults;... e.g. opencl:1=fail-every:3,latency:20ms (see FaultPlan).");

    public static final Knob GUARDED_MEMORY = new Knob("debug.guarded.memory", "false",
            "Test-only: true gives every native allocation made through NativeMemory pages of its own between guard pages, made"
                    + " inaccessible (never unmapped) when freed, so a driver, MPI or our code touching it afterwards crashes at once."
                    + " Read once per process; slow and wasteful of address space.");

    /** The knobs of the core, for doctor and documentation. */
    public static final List<Knob> CORE_KNOBS = List.of(BACKEND, CPU_THREADS, CPU_VECTOR, COLLECTIVE_TIMEOUT, COLLECTIVE_VENDOR, TRANSPORT, CACHE_DIR,
            DISPATCH, FALLBACK, GEMM_DEADLINE, HEALTH_FAILURES, HEALTH_PROBE, SPARES, CANARY, CANARY_TILE, FAULTS, GUARDED_MEMORY);

    private final Map<String, String> overrides;
    private final Map<String, String> properties;
    private final Map<String, String> environment;

    private Config(Map<String, String> overrides, Map<String, String> properties, Map<String, String> environment) {
        this.overrides = Map.copyOf(overrides);
        this.properties = properties;
        this.environment = environment;
    }

    /** A snapshot of the system properties and environment now. */
    public static Config fromEnvironment() {
        Map<String, String> props = new HashMap<>();
        System.getProperties().forEach((k, v) -> {
            if (k instanceof String key && key.startsWith("kernelbridge.")) {
                props.put(key, String.valueOf(v));
            }
        });
        Map<String, String> env = new HashMap<>();
        System.getenv().forEach((k, v) -> {
            if (k.startsWith("KERNELBRIDGE_")) {
                env.put(k, v);
            }
        });
        return new Config(Map.of(), Map.copyOf(props), Map.copyOf(env));
    }

    /** Defaults only: ignores properties and environment (for tests and embedding). */
    public static Config defaults() {
        return new Config(Map.of(), Map.of(), Map.of());
    }

    /** A copy where {@code knob} is {@code value}, above properties and environment. */
    public Config with(Knob knob, String value) {
        Map<String, String> next = new HashMap<>(overrides);
        next.put(knob.key(), value);
        return new Config(next, properties, environment);
    }

    /** The effective value: override, property, environment variable, default — the first set. */
    public String get(Knob knob) {
        String v = overrides.get(knob.key());
        if (v == null) {
            v = properties.get(knob.property());
        }
        if (v == null) {
            v = environment.get(knob.environment());
        }
        return v == null || v.isBlank() ? knob.defaultValue() : v.trim();
    }

    /** Where the effective value came from: "override", "property", "environment" or "default". */
    public String source(Knob knob) {
        if (overrides.containsKey(knob.key())) {
            return "override";
        }
        if (properties.containsKey(knob.property())) {
            return "property " + knob.property();
        }
        if (environment.containsKey(knob.environment())) {
            return "environment " + knob.environment();
        }
        return "default";
    }

    public int getInt(Knob knob) {
        String v = get(knob);
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(knob.property() + " must be an integer, got '" + v + "'");
        }
    }

    /** The user's cache directory for KernelBridge ({@link #CACHE_DIR}); not created here. */
    public java.nio.file.Path cacheDirectory() {
        String dir = get(CACHE_DIR);
        if (!dir.isEmpty()) {
            return java.nio.file.Path.of(dir);
        }
        String xdg = System.getenv("XDG_CACHE_HOME");
        java.nio.file.Path base = xdg != null && !xdg.isBlank() ? java.nio.file.Path.of(xdg) : java.nio.file.Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("kernelbridge");
    }

    /** A number in [min, max]; IllegalArgumentException naming the property otherwise. */
    public double getDouble(Knob knob, double min, double max) {
        String v = get(knob);
        try {
            double d = Double.parseDouble(v);
            if (d >= min && d <= max) {
                return d;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException(knob.property() + " must be a number in [" + min + ", " + max + "], got '" + v + "'");
    }

    public Duration getDuration(Knob knob) {
        return parseDuration(get(knob), knob.property());
    }

    /** Parses "250ms", "30s", "2m", "1h" or ISO-8601 ("PT30S"); must be positive. */
    public static Duration parseDuration(String text, String argument) {
        String t = text == null ? "" : text.trim().toLowerCase(Locale.ROOT);
        Duration d = null;
        try {
            if (t.startsWith("pt")) {
                d = Duration.parse(t.toUpperCase(Locale.ROOT));
            } else if (t.endsWith("ms")) {
                d = Duration.ofMillis(Long.parseLong(t.substring(0, t.length() - 2)));
            } else if (t.endsWith("s")) {
                d = Duration.ofMillis(Math.round(Double.parseDouble(t.substring(0, t.length() - 1)) * 1000));
            } else if (t.endsWith("m")) {
                d = Duration.ofSeconds(Long.parseLong(t.substring(0, t.length() - 1)) * 60);
            } else if (t.endsWith("h")) {
                d = Duration.ofHours(Long.parseLong(t.substring(0, t.length() - 1)));
            }
        } catch (RuntimeException e) {
            d = null;
        }
        if (d == null || d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(argument + " must be a positive duration such as 500ms, 30s or 2m, got '" + text + "'");
        }
        return d;
    }
}
