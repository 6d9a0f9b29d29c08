package dev.kernelbridge.bench;

import dev.kernelbridge.Config;
import dev.kernelbridge.DType;
import dev.kernelbridge.DeviceBuffer;
import dev.kernelbridge.GemmOp;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.Layout;
import dev.kernelbridge.tck.Cases;
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
 * The ML-shaped F32 GEMMs of {@link Cases} (the list the conformance kit checks): activations ×
 * weights and strided batches, on the CPU backend and on OpenBLAS in the same run. OpenBLAS 0.3.21
 * has no batched entry point, so its batch is a loop of cblas_sgemm calls, as a framework would
 * write it.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:+UseParallelGC"})
public class GemmShapesBenchmark {
    /** {@code kernelbridge}: our Vector API kernels (cpu:0 pinned to them); {@code kernelbridge-auto}: cpu:0 choosing its routine per shape. */
    @Param({"kernelbridge", "kernelbridge-auto", "openblas"})
    public String impl;

    @Param({"tall4096x1024x1024", "batch256x64x64x64"})
    public String shape;

    private Cases.GemmShape s;
    private KernelBridge bridge;
    private DeviceBuffer da, db, dc;
    private GemmOp op;
    private Arena arena;
    private MemorySegment a, b, c;
    private OpenBlas openBlas;

    @Setup(Level.Trial)
    public void setUp() {
        s = Cases.shape(shape);
        long sizeA = s.batch() * s.m() * s.k(), sizeB = s.batch() * s.k() * s.n(), sizeC = s.batch() * s.m() * s.n();
        arena = Arena.ofShared();
        a = arena.allocate(4 * sizeA, 64);
        b = arena.allocate(4 * sizeB, 64);
        c = arena.allocate(4 * sizeC, 64);
        SplittableRandom rnd = new SplittableRandom(3);
        for (long i = 0; i < sizeA; i++) {
            a.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) rnd.nextDouble(-1, 1));
        }
        for (long i = 0; i < sizeB; i++) {
            b.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) rnd.nextDouble(-1, 1));
        }
        bridge = KernelBridge.open(Config.defaults().with(Config.BACKEND, "cpu").with(dev.kernelbridge.cpu.routines.CpuRoutineProvider.SETTING,
                impl.equals("kernelbridge-auto") ? "auto" : "vector"));
        da = bridge.allocate(DType.F32, sizeA).copyFrom(0, a);
        db = bridge.allocate(DType.F32, sizeB).copyFrom(0, b);
        dc = bridge.allocate(DType.F32, sizeC);
        op = GemmOp.builder().layout(Layout.COLUMN_MAJOR).shape(s.m(), s.n(), s.k()).a(da, 0, s.m()).b(db, 0, s.k()).beta(0).c(dc, 0, s.m())
                .batch(s.batch(), s.m() * s.k(), s.k() * s.n(), s.m() * s.n()).build();
        openBlas = OpenBlas.get().orElse(null);
        if (openBlas == null && impl.equals("openblas")) {
            throw new IllegalStateException("peer unavailable: libopenblas.so.0 is not installed (ci/setup bench installs it)");
        }
        if (openBlas != null) {
            openBlas.setThreads(Runtime.getRuntime().availableProcessors());
            bridge.gemm(op);
            runOpenBlas();
            MemorySegment ours = arena.allocate(4 * sizeC, 64);
            dc.copyTo(0, ours);
            double bound = 2.0 * s.k() * 0x1p-24 * s.k();
            for (long i = 0; i < sizeC; i += Math.max(1, sizeC / 4096)) {
                float x = ours.getAtIndex(ValueLayout.JAVA_FLOAT, i), y = c.getAtIndex(ValueLayout.JAVA_FLOAT, i);
                if (!(Math.abs(x - y) <= bound)) {
                    throw new IllegalStateException(shape + ": KernelBridge and OpenBLAS disagree at " + i + ": " + x + " vs " + y);
                }
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
        if (impl.startsWith("kernelbridge")) {
            bridge.gemm(op);
        } else {
            runOpenBlas();
        }
    }

    private void runOpenBlas() {
        int m = (int) s.m(), n = (int) s.n(), k = (int) s.k();
        for (long item = 0; item < s.batch(); item++) {
            openBlas.sgemm(OpenBlas.NO_TRANS, OpenBlas.NO_TRANS, m, n, k, 1f, a.asSlice(4 * item * m * k), m,
                    b.asSlice(4 * item * k * n), k, 0f, c.asSlice(4 * item * m * n), m);
        }
    }
}
