package dev.kernelbridge.cli;

import dev.kernelbridge.Blas;
import dev.kernelbridge.Config;
import dev.kernelbridge.Device;
import dev.kernelbridge.DeviceMetrics;
import dev.kernelbridge.Dispatch;
import dev.kernelbridge.DispatchEvent;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.Layout;
import dev.kernelbridge.Metrics;
import dev.kernelbridge.Transpose;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * {@code demo --chaos}: GEMMs on one device while faults are injected into it (failures, a hang, a
 * corrupt result), every result verified exactly, every failover and health change shown as it
 * happens. Shows a user that a misbehaving device costs time, never a result.
 */
final class ChaosDemo {
    static final String DEFAULT_FAULTS = "fail-every:5,corrupt-every:7,hang-every:12,times:4";

    private final PrintStream out;
    private final boolean json;

    ChaosDemo(PrintStream out, boolean json) {
        this.out = out;
        this.json = json;
    }

    int run(String target, String faults, int calls, int size, String policy) {
        Config base = Config.fromEnvironment();
        String victim = target;
        if (victim == null) {
            try (KernelBridge probe = KernelBridge.open(base)) {
                List<Device> devices = probe.devices();
                if (devices.size() < 2) {
                    throw new Args.UsageException("demo --chaos needs two devices to route around one, found " + devices.stream().map(Device::id).toList()
                            + "; install an OpenCL runtime (ci/setup tests installs PoCL, POCL_DEVICES=\"pthread pthread\" gives two devices)");
                }
                victim = devices.stream().filter(d -> !d.backend().equals("cpu")).findFirst().orElse(devices.getFirst()).id();
            }
        }
        Config config = base.with(Config.FAULTS, victim + "=" + faults).with(Config.CANARY, "1").with(Config.CANARY_TILE, String.valueOf(size))
                .with(Config.HEALTH_PROBE, "1s");
        java.util.logging.Logger.getLogger("dev.kernelbridge.dispatch").setLevel(java.util.logging.Level.SEVERE); // shown below instead
        List<Map<String, Object>> eventRows = new ArrayList<>();
        int correct = 0;
        long start = System.nanoTime();
        try (KernelBridge bridge = KernelBridge.open(config); Arena arena = Arena.ofShared(); Progress progress = new Progress("chaos")) {
            Device device = bridge.device(victim);
            Dispatch dispatch = switch (policy) {
                case "pinned" -> Dispatch.pinned(device);
                case "split" -> Dispatch.split();
                case "fastest" -> Dispatch.fastest();
                default -> throw new Args.UsageException("--policy must be pinned, split or fastest, got '" + policy + "'");
            };
            dispatch = dispatch.withDeadline(Duration.ofSeconds(3));
            if (!json) {
                out.println("chaos demo: " + calls + " verified " + size + "x" + size + "x" + size + " f32 GEMMs, dispatch " + dispatch);
                out.println("faults injected into " + victim + ": " + faults + "; every result checked by a canary on a second device; deadline 3 s");
                out.println();
            }
            bridge.subscribe(e -> {
                synchronized (out) {
                    switch (e) {
                        case DispatchEvent.Failover f -> {
                            if (f.reason().startsWith("pinned device unavailable")) {
                                print("  > %s is not taking work: sent to %s", f.from(), f.to());
                            } else {
                                print("  ! %s failed (%s): %s -> re-run on %s", f.from(), f.part(), shorten(f.reason()), f.to());
                            }
                        }
                        case DispatchEvent.HealthChange h -> print("  * %s %s -> %s (%s)", h.device(), h.from(), h.to(), shorten(h.reason()));
                        case DispatchEvent.CanaryMismatch c ->
                                print("  ? canary: %s disagrees with %s: %s", c.device(), c.checkedOn(), shorten(c.detail()));
                        case DispatchEvent.Foresight f -> print("  ^ %s: %s (%s): %s", f.device(), f.action(), f.rule(), shorten(f.why()));
                    }
                    eventRows.add(Json.event(e));
                }
            });
            Blas blas = bridge.blas(dispatch);
            SplittableRandom rnd = new SplittableRandom(2026);
            for (int call = 1; call <= calls; call++) {
                progress.step(call, calls, "");
                if (m(bridge).devices().stream().anyMatch(d -> d.state() == dev.kernelbridge.HealthState.QUARANTINED)) {
                    Thread.sleep(250); // paced while a device is in quarantine, so its probe and return can be watched
                }
                float[] a = ints(rnd, size * size), b = ints(rnd, size * size);
                MemorySegment sa = segment(arena, a), sb = segment(arena, b), sc = arena.allocate(4L * size * size, 64);
                long t0 = System.nanoTime();
                blas.sgemm(Layout.ROW_MAJOR, Transpose.NO_TRANS, Transpose.NO_TRANS, size, size, size, 1f, sa, size, sb, size, 0f, sc, size);
                double ms = (System.nanoTime() - t0) / 1e6;
                boolean ok = exact(a, b, sc, size);
                correct += ok ? 1 : 0;
                synchronized (out) {
                    print("call %2d/%d  %7.1f ms  %s", call, calls, ms, ok ? "correct" : "WRONG RESULT");
                }
            }
            progress.close();
            Thread.sleep(200); // let the last events arrive before the summary
            Metrics m = bridge.metrics();
            double seconds = (System.nanoTime() - start) / 1e9;
            if (json) {
                Map<String, Object> j = Json.object();
                j.put("victim", victim);
                j.put("faults", faults);
                j.put("calls", calls);
                j.put("correct", correct);
                j.put("failovers", m.failovers());
                j.put("canaryMismatches", m.canaryMismatches());
                j.put("seconds", seconds);
                j.put("events", eventRows);
                j.put("devices", m.devices().stream().map(ChaosDemo::metricsJson).toList());
                out.println(Json.write(j));
            } else {
                out.println();
                Table t = new Table("device", "state", "launches", "failures", "timeouts", "corrupt", "failovers from", "to", "probes");
                for (DeviceMetrics d : m.devices()) {
                    t.row(d.device(), d.state().name(), String.valueOf(d.launches()), String.valueOf(d.failures()), String.valueOf(d.timeouts()),
                            String.valueOf(d.corruptions()), String.valueOf(d.failoversFrom()), String.valueOf(d.failoversTo()), String.valueOf(d.probes()));
                }
                t.print(out);
                out.println();
                out.printf("%d/%d results correct, %d failovers, %d corrupt results caught, %.1f s%n",
                        correct, calls, m.failovers(), m.canaryMismatches(), seconds);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 1;
        }
        return correct == calls ? 0 : 1;
    }

    private static Metrics m(KernelBridge bridge) {
        return bridge.metrics();
    }

    static Map<String, Object> metricsJson(DeviceMetrics d) {
        Map<String, Object> j = Json.object();
        j.put("device", d.device());
        j.put("state", d.state().name());
        j.put("reason", d.reason());
        j.put("launches", d.launches());
        j.put("failures", d.failures());
        j.put("timeouts", d.timeouts());
        j.put("corruptions", d.corruptions());
        j.put("failoversFrom", d.failoversFrom());
        j.put("failoversTo", d.failoversTo());
        j.put("probes", d.probes());
        j.put("gflops", d.throughput());
        return j;
    }

    private void print(String format, Object... args) {
        if (!json) {
            out.println(String.format(format, args));
        }
    }

    private static String shorten(String s) {
        return s == null ? "" : s.length() > 110 ? s.substring(0, 107) + "..." : s;
    }

    private static float[] ints(SplittableRandom rnd, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = rnd.nextInt(-3, 4);
        }
        return x;
    }

    private static MemorySegment segment(Arena arena, float[] x) {
        MemorySegment s = arena.allocate(4L * x.length, 64);
        MemorySegment.copy(x, 0, s, ValueLayout.JAVA_FLOAT, 0, x.length);
        return s;
    }

    /** Small integers: every order of summation gives the same bits, so the check is exact. */
    private static boolean exact(float[] a, float[] b, MemorySegment c, int n) {
        long[] row = new long[n];
        for (int i = 0; i < n; i++) {
            java.util.Arrays.fill(row, 0);
            for (int p = 0; p < n; p++) {
                long x = (long) a[i * n + p];
                if (x != 0) {
                    for (int j = 0; j < n; j++) {
                        row[j] += x * (long) b[p * n + j];
                    }
                }
            }
            for (int j = 0; j < n; j++) {
                if (c.getAtIndex(ValueLayout.JAVA_FLOAT, (long) i * n + j) != row[j]) {
                    return false;
                }
            }
        }
        return true;
    }
}
