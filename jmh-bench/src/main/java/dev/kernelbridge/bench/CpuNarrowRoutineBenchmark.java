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
 * BF16 → F32 and I8 → I32 GEMM (zero points 0, alpha 1, beta 0), square column-major: cpu:0 choosing
 * by itself ({@code auto}), forced onto our Vector API kernels ({@code vector}) or oneDNN
 * ({@code onednn}), and oneDNN called directly through FFM ({@code onednn-direct}). The operands are
 * small integers (BF16) or any bytes (I8), so every implementation's bits are oneDNN's, checked
 * before timing.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:+UseParallelGC"})
public class CpuNarrowRoutineBenchmark {
    @Param({"auto", "vector", "onednn", "onednn-direct"})
    public String impl;

    @Param({"bf16", "i8"})
    public String dtype;

    @Param({"16", "32", "64", "256", "1024", "4096"})
    public int n;

    private KernelBridge bridge;
    private DeviceBuffer dc;
    private GemmOp op;
    private Arena arena;
    private MemorySegment a, b, c;
    private OneDnn oneDnn;

    @Setup(Level.Trial)
    public void setUp() {
        long size = (long) n * n;
        boolean bf16 = dtype.equals("bf16");
        DType in = bf16 ? DType.BF16 : DType.I8, out = bf16 ? DType.F32 : DType.I32;
        arena = Arena.ofShared();
        a = arena.allocate(in.byteSize() * size, 64);
        b = arena.allocate(in.byteSize() * size, 64);
        c = arena.allocate(4 * size, 64);
        SplittableRandom rnd = new SplittableRandom(29);
        for (long i = 0; i < size; i++) {
            if (bf16) { // small integers, exact in BF16 and in every F32 sum: each routine's bits agree
                a.setAtIndex(ValueLayout.JAVA_SHORT, i, dev.kernelbridge.NarrowFloat.toBf16(rnd.nextInt(9) - 4));
                b.setAtIndex(ValueLayout.JAVA_SHORT, i, dev.kernelbridge.NarrowFloat.toBf16(rnd.nextInt(9) - 4));
            } else {
                a.set(ValueLayout.JAVA_BYTE, i, (byte) rnd.nextInt(256));
                b.set(ValueLayout.JAVA_BYTE, i, (byte) rnd.nextInt(256));
            }
        }
        oneDnn = OneDnn.get().orElseThrow(() -> new IllegalStateException("peer unavailable: libdnnl.so.2 is not installed (ci/setup bench installs it)"));
        bridge = KernelBridge.open(Config.defaults().with(Config.BACKEND, "cpu")
                .with(CpuRoutineProvider.SETTING, impl.endsWith("direct") ? "vector" : impl));
        DeviceBuffer da = bridge.allocate(in, size).copyFrom(0, a), db = bridge.allocate(in, size).copyFrom(0, b);
        dc = bridge.allocate(out, size);
        op = GemmOp.builder().layout(Layout.COLUMN_MAJOR).shape(n, n, n).a(da, 0, n).b(db, 0, n).beta(0).c(dc, 0, n).build();
        bridge.gemm(op);
        direct();
        MemorySegment ours = arena.allocate(4 * size, 64);
        dc.copyTo(0, ours);
        if (ours.mismatch(c) >= 0) {
            throw new IllegalStateException(dtype + " n=" + n + " " + impl + ": cpu:0 and oneDNN disagree at byte " + ours.mismatch(c));
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        bridge.close();
        arena.close();
    }

    private void direct() {
        oneDnn.setThreads(Runtime.getRuntime().availableProcessors());
        if (dtype.equals("bf16")) {
            oneDnn.gemmBf16Bf16F32(n, n, n, 1f, b, n, a, n, 0f, c, n);
        } else {
            oneDnn.gemmS8S8S32(n, n, n, 1f, b, n, (byte) 0, a, n, (byte) 0, 0f, c, n);
        }
    }

    @Benchmark
    public void gemm() {
        if (impl.equals("onednn-direct")) {
            direct();
        } else {
            bridge.gemm(op);
        }
    }
}
