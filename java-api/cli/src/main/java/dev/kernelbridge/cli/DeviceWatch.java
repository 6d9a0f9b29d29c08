package dev.kernelbridge.cli;

import dev.kernelbridge.Config;
import dev.kernelbridge.Device;
import dev.kernelbridge.DeviceException;
import dev.kernelbridge.DeviceMetrics;
import dev.kernelbridge.Dispatch;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.Layout;
import dev.kernelbridge.Transpose;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * {@code devices --watch}: every interval, each device runs its verified probe and a timed GEMM
 * pinned to it (no fallback), and the table of health and live throughput is redrawn — a live view
 * of which devices are fit for work, and how fast they are right now.
 */
final class DeviceWatch {
    private static final int SIZE = 384;

    private final PrintStream out;
    private final boolean json;

    DeviceWatch(PrintStream out, boolean json) {
        this.out = out;
        this.json = json;
    }

    int run(Duration interval, long rounds) throws InterruptedException {
        boolean terminal = System.console() != null && System.console().isTerminal() && !json;
        try (KernelBridge bridge = KernelBridge.open(Config.fromEnvironment()); Arena arena = Arena.ofShared()) {
            MemorySegment a = arena.allocate(4L * SIZE * SIZE, 64), b = arena.allocate(4L * SIZE * SIZE, 64), c = arena.allocate(4L * SIZE * SIZE, 64);
            for (long i = 0; i < (long) SIZE * SIZE; i++) {
                a.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, i, (i % 7) - 3);
                b.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, i, (i % 5) - 2);
            }
            for (long round = 1; rounds == 0 || round <= rounds; round++) {
                List<Map<String, Object>> rows = new ArrayList<>();
                Table t = new Table("device", "state", "probe", "GFLOP/s now", "launches", "failures", "timeouts", "signs", "reason");
                for (Device d : bridge.devices()) {
                    boolean probe = bridge.probe(d);
                    double gflops = Double.NaN;
                    if (bridge.health(d).dispatchable()) {
                        try {
                            var blas = bridge.blas(Dispatch.pinned(d).withFallback(false));
                            long best = Long.MAX_VALUE;
                            for (int r = 0; r < 3; r++) { // the best of three: the first may include a kernel build or a cold JIT
                                long t0 = System.nanoTime();
                                blas.sgemm(Layout.ROW_MAJOR, Transpose.NO_TRANS, Transpose.NO_TRANS, SIZE, SIZE, SIZE, 1f, a, SIZE, b, SIZE, 0f, c, SIZE);
                                best = Math.min(best, System.nanoTime() - t0);
                            }
                            gflops = 2.0 * SIZE * SIZE * SIZE / best;
                        } catch (DeviceException e) {
                            gflops = Double.NaN; // the failure is in the device's health now
                        }
                    }
                    DeviceMetrics m = bridge.metrics().device(d.id());
                    t.row(d.id(), m.state().name(), probe ? "pass" : "FAIL", Double.isNaN(gflops) ? "-" : String.format("%.1f", gflops),
                            String.valueOf(m.launches()), String.valueOf(m.failures()), String.valueOf(m.timeouts()), Main.signs(d.telemetry()),
                            m.reason());
                    Map<String, Object> row = ChaosDemo.metricsJson(m);
                    row.put("probe", probe);
                    row.put("gflopsNow", Double.isNaN(gflops) ? null : gflops);
                    row.put("telemetry", Main.telemetry(d.telemetry()));
                    rows.add(row);
                }
                if (json) {
                    Map<String, Object> j = Json.object();
                    j.put("round", round);
                    j.put("time", java.time.Instant.now().toString());
                    j.put("devices", rows);
                    out.println(Json.write(j)); // one JSON object per line and round
                } else {
                    if (terminal) {
                        out.print("\u001b[H\u001b[2J");
                    }
                    out.println("kernelbridge devices --watch  (round " + round + ", every " + interval.toMillis() + " ms"
                            + (terminal ? ", Ctrl-C to stop" : "") + ")");
                    t.print(out);
                    out.println();
                }
                out.flush();
                if (rounds == 0 || round < rounds) {
                    Thread.sleep(interval.toMillis());
                }
            }
        }
        return 0;
    }
}
