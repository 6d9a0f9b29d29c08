package dev.kernelbridge.cli;

import dev.kernelbridge.Blas;
import dev.kernelbridge.Config;
import dev.kernelbridge.DType;
import dev.kernelbridge.Device;
import dev.kernelbridge.DeviceMetrics;
import dev.kernelbridge.Dispatch;
import dev.kernelbridge.DispatchEvent;
import dev.kernelbridge.HealthState;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.spi.BackendProvider;
import java.io.PrintStream;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code demo --anticipate}: devices that degrade gradually (the fault plan's gradual faults on real
 * devices), and the pool acting on the signs before anything fails: a corrected-error ramp drains its
 * device ahead of the hard fault it announces; a lasting slowdown rebalances (1.3×) or drains (1.6×).
 * Every result is verified exactly (small integers), every warning, drain and health change is shown as
 * it happens, and a final table gives per scenario the rule, the action, the lead over the hard fault,
 * the results checked, wrong and lost, and the share of steps done right.
 *
 * <p>Each scenario opens its own bridge with its own fault plan and a dispatch pinned on the degrading
 * device (with fallback, so that a drained device's work goes elsewhere). The fault plan counts the
 * device's launches, and a drained device runs no work: after the drain the demo probes it every
 * {@value #EVERY} steps, as an operator would. A probe of a trend-drained device is a soak (a window
 * of probe launches whose corrected errors must be back to their usual rate), so the ramp goes on in
 * the probes, the device stays out, and its hard fault strikes during one of them, with no work on
 * it. The background probe is off (an hour), so that the demo's probes are the only ones.
 */
final class AnticipateDemo {
    /** The trend rule's baseline is its first 5 windows of 20 launches: the ramp starts after them. */
    static final int TREND_FROM = 100;
    /** Fail-slow needs 8 blocks of 7 timed launches as its history: the slowdown starts after them. */
    static final int SLOW_FROM = 100;
    /** The slowed device's step time (launches of at least a millisecond feed the fail-slow rule). */
    static final String STEP = "10ms";
    /** Launches a fail-slow scenario runs at most, and after its action. */
    static final int SLOW_CAP = 360, AFTER_ACTION = 40;
    /** One live line per this many steps (the trend rule's window). */
    static final int EVERY = 20;
    private static final String SPARK = "_.:-=+*#%@";

    private final PrintStream out;
    private final boolean json;
    private final List<Map<String, Object>> eventRows = new ArrayList<>();
    /** What this machine could not show, said once at the end. */
    private final List<String> notShown = new ArrayList<>();

    /** The backends to open (null: those on the class path), for a test that brings its own second device. */
    private final List<? extends BackendProvider> providers;

    AnticipateDemo(PrintStream out, boolean json) {
        this(out, json, null);
    }

    AnticipateDemo(PrintStream out, boolean json, List<? extends BackendProvider> providers) {
        this.out = out;
        this.json = json;
        this.providers = providers;
    }

    private KernelBridge bridge(Config config) {
        return providers == null ? KernelBridge.open(config) : KernelBridge.open(config, providers);
    }

    /** One scenario: a fault plan on a device and the action the rules should take. */
    record Scenario(String name, String device, String faults, String rule, String expected, int steps, int hardFault, int n,
                    String description) { }

    /** What happened in one scenario. */
    static final class Outcome {
        final Scenario s;
        volatile String action = "none";
        volatile String actionWhy = "";
        int actionStep = -1, drainStep = -1, hardFaultSeen = -1, steps, checked, wrong, lost;
        /** Whether the device was out of service when its hard fault came due. */
        boolean hardFaultOut;
        /** Whether the hard fault struck (during a probe of the drained device), not only came due. */
        boolean hardFaultStruck;
        volatile int eventStep = -1;
        double baselineMs = Double.NaN, slowMs = Double.NaN;
        long correctedAtAction = -1;

        Outcome(Scenario s) { this.s = s; }

        boolean ok() {
            boolean acted = action.equals(s.expected());
            boolean ahead = !s.expected().equals("drain") || s.hardFault() <= 0 || drainStep > 0 && drainStep < s.hardFault()
                    && (hardFaultSeen < 0 || hardFaultOut);
            boolean kept = !s.expected().equals("rebalance") || drainStep < 0;
            return acted && ahead && kept && wrong == 0 && lost == 0;
        }

        int lead() { return s.hardFault() > 0 && actionStep > 0 && actionStep < s.hardFault() ? s.hardFault() - actionStep : -1; }

        double effective() { return steps == 0 ? 0 : (double) (checked - wrong) / steps; }
    }

    int run(int steps, long seed) {
        long start = System.nanoTime();
        Config base = Config.fromEnvironment();
        List<Device> devices;
        try (KernelBridge probe = bridge(base)) {
            devices = probe.devices();
        }
        Device cpu = devices.stream().filter(d -> d.backend().equals("cpu") && d.supports(DType.F32)).findFirst()
                .orElse(devices.stream().filter(d -> d.supports(DType.F32)).findFirst().orElse(null));
        if (cpu == null) {
            throw new IllegalStateException("demo --anticipate needs a device that runs f32 GEMMs, found " + devices.stream().map(Device::id).toList());
        }
        Device other = devices.stream().filter(d -> d != cpu && d.supports(DType.F32)).findFirst().orElse(null);
        List<Scenario> scenarios = scenarios(steps, seed, cpu.id(), other == null ? null : other.id(), other != null && !other.backend().equals("cpu"));
        java.util.logging.Logger.getLogger("dev.kernelbridge").setLevel(java.util.logging.Level.SEVERE); // the warnings are shown below instead
        if (!json) {
            out.println("anticipate demo: devices " + devices.stream().map(Device::id).toList() + ", seed " + seed
                    + "; every result a GEMM on small integers, checked exactly");
            if (other == null) {
                out.println("only " + cpu.id() + " here: no second device to take a drained device's work (install an OpenCL runtime;"
                        + " ci/setup tests installs PoCL)");
            }
        }
        List<Outcome> outcomes = new ArrayList<>();
        try (Progress progress = new Progress("anticipate")) {
            for (Scenario s : scenarios) {
                outcomes.add(s.rule().equals("trend") ? trend(base, s, progress) : slow(base, s, progress));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 1;
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        boolean ok = outcomes.stream().allMatch(Outcome::ok);
        if (json) {
            Map<String, Object> j = Json.object();
            j.put("devices", devices.stream().map(Device::id).toList());
            j.put("seed", seed);
            j.put("steps", steps);
            j.put("scenarios", outcomes.stream().map(AnticipateDemo::row).toList());
            j.put("notShown", notShown);
            j.put("events", eventRows);
            j.put("seconds", seconds);
            j.put("ok", ok);
            out.println(Json.write(j));
        } else {
            out.println();
            Table t = new Table("scenario", "device", "rule", "action", "expected", "at step", "signs then", "hard fault", "lead", "checked", "wrong",
                    "lost", "effective");
            for (Outcome o : outcomes) {
                t.row(o.s.name(), o.s.device(), o.s.rule(), o.action, o.s.expected(), o.actionStep > 0 ? String.valueOf(o.actionStep) : "-", signs(o),
                        o.s.hardFault() <= 0 ? "-" : o.hardFaultStruck ? "struck at step " + o.hardFaultSeen + " (out)"
                                : "step " + o.s.hardFault() + (o.hardFaultSeen < 0 ? " (not reached)" : o.hardFaultOut ? " (out)" : " (IN SERVICE)"),
                        o.lead() >= 0 ? o.lead() + " launches" : "-", String.valueOf(o.checked), String.valueOf(o.wrong), String.valueOf(o.lost),
                        String.format(Locale.ROOT, "%.3f", o.effective()));
            }
            t.print(out);
            out.println();
            for (String n : notShown) {
                out.println("not shown here: " + n);
            }
            long checked = outcomes.stream().mapToLong(o -> o.checked).sum(), bad = outcomes.stream().mapToLong(o -> o.wrong + o.lost).sum();
            out.printf(Locale.ROOT, "%d results checked, %d wrong or lost; %s; %.1f s%n", checked, bad,
                    ok ? "every expected action taken" : "NOT AS EXPECTED: " + outcomes.stream().filter(o -> !o.ok()).map(o -> o.s.name()).toList(),
                    seconds);
        }
        return ok ? 0 : 1;
    }

    /** The scenarios this machine can show, and what it cannot (noted in {@link #notShown}). */
    private List<Scenario> scenarios(int steps, long seed, String cpu, String other, boolean otherDrainsWhenSlow) {
        List<Scenario> list = new ArrayList<>();
        int hardFault = steps * 3 / 4, ramp = hardFault - TREND_FROM;
        String ce = "ce-trend:" + TREND_FROM + ",ce-ramp:" + ramp + ",seed:" + seed;
        if (other != null) {
            list.add(new Scenario("trend", cpu, ce, "trend", "drain", steps, hardFault, 32,
                    "corrected memory errors on " + cpu + " climb from launch " + TREND_FROM + "; at launch " + hardFault
                            + " its memory gives out. The work is pinned on it, " + other + " beside it"));
        } else {
            // Alone, the device cannot be drained (nothing could take its work): the rule only warns, and the
            // run stops before the hard fault, which would lose the work.
            list.add(new Scenario("trend", cpu, ce, "trend", "warn", Math.min(steps, hardFault - 1), hardFault, 32,
                    "corrected memory errors on " + cpu + " climb from launch " + TREND_FROM + "; at launch " + hardFault
                            + " its memory gives out. It is the only device: the run stops before that"));
            notShown.add("the drain and the work moving on (one device: a trend is only warned about), and the hard fault (it would lose the work)");
        }
        String slowed = otherDrainsWhenSlow ? other : cpu;
        String plan = "step:" + STEP + ",noise:5%,slow-from:" + SLOW_FROM + ",seed:" + seed;
        list.add(new Scenario("fail-slow 1.3x", slowed, plan + ",slow:1.3", "fail-slow", "rebalance", SLOW_CAP, 0, 80,
                slowed + "'s launches (" + STEP + " steps, 5% noise) become 1.3x slower from launch " + SLOW_FROM + "; it should stay in service"));
        if (otherDrainsWhenSlow) {
            list.add(new Scenario("fail-slow 1.6x", other, plan + ",slow:1.6", "fail-slow", "drain", SLOW_CAP, 0, 80,
                    other + "'s launches become 1.6x slower from launch " + SLOW_FROM + "; " + cpu + " should take its work"));
        } else {
            notShown.add("a fail-slow drain (it needs a second device besides the CPU: the CPU is never drained for slowness, its slowness is the"
                    + " machine's load)");
        }
        return list;
    }

    /** What the rule saw when it acted: the corrected errors, or the time per call against the baseline. */
    private static String signs(Outcome o) {
        if (o.s.rule().equals("trend")) {
            return o.correctedAtAction >= 0 ? o.correctedAtAction + " corrected errors" : "-";
        }
        return Double.isNaN(o.baselineMs) || Double.isNaN(o.slowMs) ? "-"
                : String.format(Locale.ROOT, "%.1f -> %.1f ms/call", o.baselineMs, o.slowMs);
    }

    private static Map<String, Object> row(Outcome o) {
        Map<String, Object> j = Json.object();
        j.put("scenario", o.s.name());
        j.put("device", o.s.device());
        j.put("faults", o.s.faults());
        j.put("rule", o.s.rule());
        j.put("action", o.action);
        j.put("expected", o.s.expected());
        j.put("actionStep", o.actionStep > 0 ? o.actionStep : null);
        j.put("drainStep", o.drainStep > 0 ? o.drainStep : null);
        j.put("why", o.actionWhy);
        j.put("hardFaultLaunch", o.s.hardFault() > 0 ? o.s.hardFault() : null);
        j.put("hardFaultReached", o.hardFaultSeen > 0);
        j.put("outOfServiceAtHardFault", o.hardFaultSeen > 0 ? o.hardFaultOut : null);
        j.put("hardFaultStruck", o.hardFaultStruck);
        j.put("lead", o.lead() >= 0 ? o.lead() : null);
        j.put("correctedAtAction", o.correctedAtAction >= 0 ? o.correctedAtAction : null);
        j.put("baselineMs", o.baselineMs);
        j.put("slowMs", o.slowMs);
        j.put("steps", o.steps);
        j.put("checked", o.checked);
        j.put("wrong", o.wrong);
        j.put("lost", o.lost);
        j.put("effective", o.effective());
        j.put("ok", o.ok());
        return j;
    }

    /** A bridge for the scenario: its fault plan, no background probe (see the class comment), and its events shown as they come. */
    private KernelBridge open(Config base, Scenario s, Outcome o, AtomicInteger step) {
        Config config = base.with(Config.FAULTS, s.device() + "=" + s.faults()).with(Config.HEALTH_PROBE, "1h");
        KernelBridge bridge = bridge(config);
        if (!json) {
            out.println();
            out.println("== " + s.name() + ": " + s.description());
            out.println("   fault plan: " + s.device() + "=" + s.faults());
        }
        boolean[] toldPinned = {false};
        bridge.subscribe(e -> {
            Map<String, Object> row = Json.object();
            row.put("scenario", s.name());
            row.put("step", step.get());
            row.putAll(Json.event(e));
            synchronized (out) {
                switch (e) {
                    case DispatchEvent.Foresight f -> {
                        if (f.device().equals(s.device()) && (o.action.equals("none") || f.action().equals("drain"))) {
                            o.action = f.action();
                            o.actionWhy = f.why();
                            o.eventStep = step.get(); // events come on the bridge's thread: about the step of the launch that acted
                        }
                        print("  ^ step %d: %s: %s (%s): %s", step.get(), f.device(), f.action().toUpperCase(Locale.ROOT), f.rule(), shorten(f.why()));
                    }
                    case DispatchEvent.HealthChange h -> print("  * %s %s -> %s (%s)", h.device(), h.from(), h.to(), shorten(h.reason()));
                    case DispatchEvent.Failover f -> {
                        if (!f.reason().startsWith("pinned device unavailable")) {
                            print("  ! %s failed: %s -> re-run on %s", f.from(), shorten(f.reason()), f.to());
                        } else if (!toldPinned[0]) {
                            toldPinned[0] = true;
                            print("  > %s takes no work: the calls pinned on it go to %s", f.from(), f.to());
                        } else {
                            return; // one line says it; every later call is the same
                        }
                    }
                    case DispatchEvent.CanaryMismatch c -> print("  ? %s disagrees with %s: %s", c.device(), c.checkedOn(), shorten(c.detail()));
                }
                eventRows.add(row);
            }
        });
        return bridge;
    }

    /** Scenario A: a corrected-error ramp, the drain (or a warning, alone), the work moving on, the hard fault. */
    private Outcome trend(Config base, Scenario s, Progress progress) throws InterruptedException {
        Outcome o = new Outcome(s);
        AtomicInteger step = new AtomicInteger();
        try (KernelBridge bridge = open(base, s, o, step)) {
            Device victim = bridge.device(s.device());
            Blas blas = bridge.blas(Dispatch.pinned(victim));
            SplittableRandom rnd = new SplittableRandom(s.faults().hashCode());
            ArrayDeque<Long> windows = new ArrayDeque<>();
            long lastCe = Math.max(0, victim.telemetry().correctedMemoryErrors());
            String servedBy = s.device();
            for (int i = 1; i <= s.steps(); i++) {
                step.set(i);
                progress.step(i, s.steps(), s.name());
                Map<String, Long> before = launches(bridge);
                verifiedGemm(blas, rnd, s.n(), o);
                servedBy = servedBy(before, launches(bridge));
                if (o.drainStep < 0 && !bridge.health(victim).dispatchable()) {
                    o.drainStep = i; // the drain came after this step's launch: the device's last
                    o.actionStep = i;
                    o.correctedAtAction = victim.telemetry().correctedMemoryErrors();
                } else if (o.actionStep < 0 && o.action.equals("warn")) {
                    o.actionStep = o.eventStep;
                    o.correctedAtAction = victim.telemetry().correctedMemoryErrors();
                }
                if (o.drainStep > 0 && i % EVERY == 0 && bridge.health(victim) == HealthState.QUARANTINED) {
                    boolean back = bridge.probe(victim); // a soak: the plan's ramp goes on in its launches
                    HealthState now = bridge.health(victim);
                    String why = bridge.metrics().devices().stream().filter(d -> d.device().equals(s.device())).findFirst()
                            .map(d -> d.reason()).orElse("");
                    synchronized (out) {
                        if (now == HealthState.LOST) {
                            o.hardFaultStruck = true;
                            o.hardFaultSeen = i;
                            o.hardFaultOut = true;
                            print("  # step %d: %s's HARD FAULT struck during a soak probe (%s); it has been out of service since step %d,"
                                    + " and no work was on it", i, s.device(), shorten(why), o.drainStep);
                        } else {
                            print("  . step %d: probe of %s (a soak of %d launches): %s", i, s.device(), EVERY,
                                    back ? "passed, back in service" : "stays out: " + shorten(why));
                        }
                    }
                }
                if (i == s.hardFault() && !o.hardFaultStruck) {
                    HealthState now = bridge.health(victim);
                    o.hardFaultSeen = i;
                    o.hardFaultOut = !now.dispatchable();
                    synchronized (out) {
                        print(o.hardFaultOut
                                ? "  # step %d: %s's HARD FAULT is due (the plan's launch %d: its memory gives out); it has been out of service"
                                        + " since step %d and runs none of the work"
                                : "  # step %d: %s's HARD FAULT is due (the plan's launch %d) and it is %s: the work is re-run elsewhere",
                                i, s.device(), s.hardFault(), o.hardFaultOut ? o.drainStep : now);
                    }
                }
                if (i % EVERY == 0 || i == s.steps()) {
                    long ce = victim.telemetry().correctedMemoryErrors();
                    windows.addLast(ce < 0 ? 0 : ce - lastCe);
                    lastCe = Math.max(lastCe, ce);
                    while (windows.size() > 12) {
                        windows.removeFirst();
                    }
                    synchronized (out) {
                        print("step %3d/%d  served by %-9s  %s corrected errors %5s  per %d launches [%s]  %s  %d/%d exact", i, s.steps(), servedBy,
                                s.device(), ce < 0 ? "n/a" : String.valueOf(ce), EVERY, spark(windows), bridge.health(victim), o.checked - o.wrong,
                                o.steps);
                    }
                }
                if (!json) {
                    Thread.sleep(6); // paced on a terminal, so that the ramp can be watched
                }
            }
            Thread.sleep(200); // the last events arrive on the bridge's thread
        }
        return o;
    }

    /** Scenario B: a device slows down; its time per call against its own baseline, then the warning, the rebalance or the drain. */
    private Outcome slow(Config base, Scenario s, Progress progress) throws InterruptedException {
        Outcome o = new Outcome(s);
        AtomicInteger step = new AtomicInteger();
        try (KernelBridge bridge = open(base, s, o, step)) {
            Device victim = bridge.device(s.device());
            Blas blas = bridge.blas(Dispatch.pinned(victim));
            SplittableRandom rnd = new SplittableRandom(s.faults().hashCode());
            List<Double> baseline = new ArrayList<>();
            ArrayDeque<Double> recent = new ArrayDeque<>(), ratios = new ArrayDeque<>();
            int last = s.steps();
            for (int i = 1; i <= last; i++) {
                step.set(i);
                progress.step(i, last, s.name());
                Map<String, Long> before = launches(bridge);
                double ms = verifiedGemm(blas, rnd, s.n(), o);
                String servedBy = servedBy(before, launches(bridge));
                boolean onVictim = servedBy.equals(s.device());
                if (onVictim) {
                    if (i > 10 && i < SLOW_FROM) {
                        baseline.add(ms); // the first launches build kernels and warm caches
                    }
                    recent.addLast(ms);
                    while (recent.size() > EVERY) {
                        recent.removeFirst();
                    }
                }
                if (o.actionStep < 0 && !o.action.equals("none")) {
                    o.actionStep = o.eventStep;
                    o.slowMs = median(recent);
                }
                if (o.action.equals("drain") && o.drainStep < 0 && !bridge.health(victim).dispatchable()) {
                    o.drainStep = i; // the drain came after this step's launch: the device's last
                    o.actionStep = i;
                    o.slowMs = median(recent);
                }
                if (o.action.equals(s.expected()) && last == s.steps()) {
                    last = Math.min(s.steps(), i + AFTER_ACTION); // then the work goes on a while, to be seen
                }
                if (i % EVERY == 0 || i == last) {
                    double b = median(baseline), r = median(recent);
                    o.baselineMs = b;
                    if (!baseline.isEmpty() && !Double.isNaN(r)) {
                        ratios.addLast(r / b);
                        while (ratios.size() > 12) {
                            ratios.removeFirst();
                        }
                    }
                    String where = onVictim ? String.format(Locale.ROOT, "%s %5.1f ms/call, %.2fx its baseline %.1f ms [%s]", s.device(), r, r / b, b,
                            sparkRatio(ratios)) : String.format(Locale.ROOT, "served by %s %.2f ms/call (%s %s)", servedBy, ms,
                            s.device(), bridge.health(victim));
                    synchronized (out) {
                        print("step %3d  %s  %d/%d exact", i, where, o.checked - o.wrong, o.steps);
                    }
                }
                if (o.action.equals("none") && i == s.steps()) {
                    o.slowMs = median(recent);
                }
            }
            Thread.sleep(200);
        }
        return o;
    }

    /**
     * One verified GEMM of small integers, counted checked and right, wrong, or lost (it threw); returns
     * the milliseconds of the call alone (the inputs are made before it, the check after).
     */
    private static double verifiedGemm(Blas blas, SplittableRandom rnd, int n, Outcome o) {
        float[] a = ints(rnd, n * n), b = ints(rnd, n * n), c = new float[n * n];
        o.steps++;
        long t0 = System.nanoTime();
        try {
            blas.sgemm("N", "N", n, n, n, 1f, a, n, b, n, 0f, c, n);
        } catch (RuntimeException e) {
            o.lost++;
            return Double.NaN;
        }
        double ms = (System.nanoTime() - t0) / 1e6;
        o.checked++;
        if (!Arrays.equals(product(a, b, n), c)) {
            o.wrong++;
        }
        return ms;
    }

    /** Launches per device so far. */
    private static Map<String, Long> launches(KernelBridge bridge) {
        Map<String, Long> m = new java.util.HashMap<>();
        for (DeviceMetrics d : bridge.metrics().devices()) {
            m.put(d.device(), d.launches());
        }
        return m;
    }

    /** The device that launched between two counts ("-" when none did: the call failed everywhere). */
    private static String servedBy(Map<String, Long> before, Map<String, Long> after) {
        return after.entrySet().stream().filter(e -> e.getValue() > before.getOrDefault(e.getKey(), 0L)).map(Map.Entry::getKey).findFirst().orElse("-");
    }

    private static DeviceMetrics metrics(KernelBridge bridge, String device) {
        return bridge.metrics().devices().stream().filter(d -> d.device().equals(device)).findFirst().orElseThrow();
    }

    private static String spark(ArrayDeque<Long> values) {
        long max = values.stream().mapToLong(Long::longValue).max().orElse(0);
        StringBuilder s = new StringBuilder();
        for (long v : values) {
            s.append(max == 0 ? SPARK.charAt(0) : SPARK.charAt((int) Math.round((SPARK.length() - 1) * (double) v / max)));
        }
        return s.toString();
    }

    /** Ratios to the baseline: 1.0 is the lowest mark, 2.0 and more the highest. */
    private static String sparkRatio(ArrayDeque<Double> ratios) {
        StringBuilder s = new StringBuilder();
        for (double r : ratios) {
            s.append(SPARK.charAt((int) Math.max(0, Math.min(SPARK.length() - 1, Math.round((r - 1) * (SPARK.length() - 1))))));
        }
        return s.toString();
    }

    private static double median(java.util.Collection<Double> xs) {
        if (xs.isEmpty()) {
            return Double.NaN;
        }
        double[] v = xs.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    private static float[] ints(SplittableRandom rnd, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = rnd.nextInt(-4, 5);
        }
        return x;
    }

    /** Column-major C = A·B in exact arithmetic: small integers, so every order of summation gives the same bits. */
    private static float[] product(float[] a, float[] b, int n) {
        float[] c = new float[n * n];
        for (int j = 0; j < n; j++) {
            for (int p = 0; p < n; p++) {
                float x = b[p + j * n];
                if (x != 0) {
                    for (int i = 0; i < n; i++) {
                        c[i + j * n] += a[i + p * n] * x;
                    }
                }
            }
        }
        return c;
    }

    private void print(String format, Object... args) {
        if (!json) {
            out.println(String.format(Locale.ROOT, format, args));
        }
    }

    private static String shorten(String s) {
        return s == null ? "" : s.length() > 150 ? s.substring(0, 147) + "..." : s;
    }
}
