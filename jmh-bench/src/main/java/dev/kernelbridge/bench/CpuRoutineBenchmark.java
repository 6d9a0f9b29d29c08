package dev.kernelbridge.bench;

import dev.kernelbridge.Config;
import dev.kernelbridge.DType;
import dev.kernelbridge.DeviceBuffer;
import dev.kernelbridge.GemmOp;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.Layout;
import dev.kernelbridge.cpu.routines.CpuRoutineProvider;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The CPU device's GEMM routines (issue 29), square column-major, in one run: cpu:0 choosing by
 * itself ({@code auto}), cpu:0 forced onto each routine ({@code vector}, {@code openblas},
 * {@code onednn}), and the libraries called directly through FFM on the same memory — the peers a
 * framework would otherwise call ({@code direct}: OpenBLAS; {@code onednn-direct}). F32 here;
 * {@link CpuNarrowRoutineBenchmark} does BF16 → F32 and I8 → I32 against oneDNN. Every implementation is checked
 * against the direct result before timing.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:+UseParallelGC"})
public class CpuRoutineBenchmark {
    @Param({"auto", "vector", "openblas", "onednn", "direct", "onednn-direct"})
    public String impl;

    @Param({"16", "32", "64", "256", "1024", "4096"})
    public int n;

    private KernelBridge bridge;
    private DeviceBuffer da, db, dc;
    private GemmOp op;
    private Arena arena;
    private MemorySegment a, b, c;
    private OpenBlas openBlas;
    private OneDnn oneDnn;

    @Setup(Level.Trial)
    public void setUp() {
        long size = (long) n * n;
        arena = Arena.ofShared();
        a = arena.allocate(4 * size, 64);
        b = arena.allocate(4 * size, 64);
        c = arena.allocate(4 * size, 64);
        SplittableRandom rnd = new SplittableRandom(29);
        for (long i = 0; i < size; i++) {
            a.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) rnd.nextDouble(-1, 1));
            b.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) rnd.nextDouble(-1, 1));
        }
        openBlas = OpenBlas.get().orElseThrow(() -> new IllegalStateException("peer unavailable: libopenblas.so.0 is not installed (ci/setup bench installs it)"));
        openBlas.setThreads(Runtime.getRuntime().availableProcessors());
        oneDnn = OneDnn.get().orElseThrow(() -> new IllegalStateException("peer unavailable: libdnnl.so.2 is not installed (ci/setup bench installs it)"));
        String routine = impl.endsWith("direct") ? "vector" : impl;
        bridge = KernelBridge.open(Config.defaults().with(Config.BACKEND, "cpu").with(CpuRoutineProvider.SETTING, routine));
        da = bridge.allocate(DType.F32, size).copyFrom(0, a);
        db = bridge.allocate(DType.F32, size).copyFrom(0, b);
        dc = bridge.allocate(DType.F32, size);
        op = GemmOp.builder().layout(Layout.COLUMN_MAJOR).shape(n, n, n).a(da, 0, n).b(db, 0, n).beta(0).c(dc, 0, n).build();
        bridge.gemm(op);
        openBlasDirect(); // the reference: OpenBLAS's bits
        MemorySegment ours = arena.allocate(4 * size, 64);
        dc.copyTo(0, ours);
        double bound = 2.0 * n * 0x1p-24 * n;
        for (long i = 0; i < size; i += Math.max(1, size / 4096)) {
            float x = ours.getAtIndex(ValueLayout.JAVA_FLOAT, i), y = c.getAtIndex(ValueLayout.JAVA_FLOAT, i);
            if (!(Math.abs(x - y) <= bound)) {
                throw new IllegalStateException("n=" + n + " " + impl + ": cpu:0 and OpenBLAS disagree at " + i + ": " + x + " vs " + y);
            }
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        bridge.close();
        arena.close();
    }

    @Benchmark
    public void gemm() {
        switch (impl) {
            case "direct" -> openBlasDirect();
            case "onednn-direct" -> oneDnnDirect();
            default -> bridge.gemm(op);
        }
    }

    private void openBlasDirect() {
        openBlas.sgemm(OpenBlas.NO_TRANS, OpenBlas.NO_TRANS, n, n, n, 1f, a, n, b, n, 0f, c, n);
    }

    /** Row-major oneDNN on column-major data: Cᵀ = Bᵀ·Aᵀ, the way the routine calls it. */
    private void oneDnnDirect() {
        oneDnn.setThreads(Runtime.getRuntime().availableProcessors());
        oneDnn.sgemm(n, n, n, 1f, b, n, a, n, 0f, c, n);
    }
}
