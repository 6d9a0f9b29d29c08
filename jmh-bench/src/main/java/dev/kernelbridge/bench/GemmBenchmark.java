package dev.kernelbridge.bench;

import dev.kernelbridge.Blas;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.Layout;
import dev.kernelbridge.Transpose;
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
 * Square column-major GEMM, C := A·B, on native memory, by KernelBridge's default device and by
 * OpenBLAS on the same buffers in the same run, both on every core. The setup checks that both
 * agree, so a peer that computes garbage (a mis-detected core) fails loudly instead of winning.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:+UseParallelGC"})
public class GemmBenchmark {
    /** "blis" runs where libblis.so.4 is installed (RatioReport asks for it only then). */
    @Param({"kernelbridge", "openblas"})
    public String impl;

    @Param({"f32", "f64"})
    public String dtype;

    @Param({"64", "128", "256", "512", "1024", "2048", "4096"})
    public int n;

    private Arena arena;
    private KernelBridge bridge;
    private Blas blas;
    private OpenBlas openBlas;
    private Blis blis;
    private MemorySegment a, b, c;
    private boolean f32;

    @Setup(Level.Trial)
    public void setUp() {
        f32 = dtype.equals("f32");
        long bytes = (long) n * n * (f32 ? 4 : 8);
        arena = Arena.ofShared();
        a = arena.allocate(bytes, 64);
        b = arena.allocate(bytes, 64);
        c = arena.allocate(bytes, 64);
        SplittableRandom rnd = new SplittableRandom(1);
        for (long i = 0; i < (long) n * n; i++) {
            if (f32) {
                a.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) rnd.nextDouble(-1, 1));
                b.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) rnd.nextDouble(-1, 1));
            } else {
                a.setAtIndex(ValueLayout.JAVA_DOUBLE, i, rnd.nextDouble(-1, 1));
                b.setAtIndex(ValueLayout.JAVA_DOUBLE, i, rnd.nextDouble(-1, 1));
            }
        }
        bridge = KernelBridge.open(dev.kernelbridge.Config.defaults().with(dev.kernelbridge.Config.BACKEND, "cpu").with(dev.kernelbridge.cpu.routines.CpuRoutineProvider.SETTING, "vector")); // the CPU backend's figures
        blas = bridge.blas();
        openBlas = OpenBlas.get().orElse(null);
        if (openBlas != null) {
            openBlas.setThreads(Runtime.getRuntime().availableProcessors());
            crossCheck();
        } else if (impl.equals("openblas")) {
            throw new IllegalStateException("peer unavailable: libopenblas.so.0 is not installed (ci/setup bench installs it)");
        }
        if (impl.equals("blis")) {
            blis = Blis.get().orElseThrow(() -> new IllegalStateException("peer unavailable: libblis.so.4 is not installed"));
            blis.setThreads(Runtime.getRuntime().availableProcessors());
            MemorySegment ours = arena.allocate(c.byteSize(), 64), theirs = arena.allocate(c.byteSize(), 64);
            runOurs(ours);
            if (f32) {
                blis.sgemm(n, a, b, theirs);
            } else {
                blis.dgemm(n, a, b, theirs);
            }
            double bound = 2.0 * n * (f32 ? 0x1p-24 : 0x1p-53) * n;
            for (long i = 0; i < (long) n * n; i += Math.max(1, (long) n * n / 4096)) {
                double x = f32 ? ours.getAtIndex(ValueLayout.JAVA_FLOAT, i) : ours.getAtIndex(ValueLayout.JAVA_DOUBLE, i);
                double y = f32 ? theirs.getAtIndex(ValueLayout.JAVA_FLOAT, i) : theirs.getAtIndex(ValueLayout.JAVA_DOUBLE, i);
                if (!(Math.abs(x - y) <= bound)) {
                    throw new IllegalStateException("KernelBridge and BLIS " + blis.version() + " disagree at " + i + ": " + x + " vs " + y);
                }
            }
        }
    }

    /** Both implementations must agree to within the F32/F64 error bound before anything is timed. */
    private void crossCheck() {
        MemorySegment theirs = arena.allocate(c.byteSize(), 64);
        runOurs(c);
        runOpenBlas(theirs);
        double u = f32 ? 0x1p-24 : 0x1p-53;
        double bound = 2.0 * n * u * n; // |a|,|b| <= 1: each dot product's gauge is at most n
        for (long i = 0; i < (long) n * n; i += Math.max(1, (long) n * n / 4096)) {
            double x = f32 ? c.getAtIndex(ValueLayout.JAVA_FLOAT, i) : c.getAtIndex(ValueLayout.JAVA_DOUBLE, i);
            double y = f32 ? theirs.getAtIndex(ValueLayout.JAVA_FLOAT, i) : theirs.getAtIndex(ValueLayout.JAVA_DOUBLE, i);
            if (!(Math.abs(x - y) <= bound)) {
                throw new IllegalStateException("KernelBridge and OpenBLAS (" + openBlas.coreName() + ") disagree at " + i + ": " + x + " vs " + y);
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
            case "kernelbridge" -> runOurs(c);
            case "blis" -> {
                if (f32) {
                    blis.sgemm(n, a, b, c);
                } else {
                    blis.dgemm(n, a, b, c);
                }
            }
            default -> runOpenBlas(c);
        }
    }

    private void runOurs(MemorySegment out) {
        if (f32) {
            blas.sgemm(Layout.COLUMN_MAJOR, Transpose.NO_TRANS, Transpose.NO_TRANS, n, n, n, 1f, a, n, b, n, 0f, out, n);
        } else {
            blas.dgemm(Layout.COLUMN_MAJOR, Transpose.NO_TRANS, Transpose.NO_TRANS, n, n, n, 1, a, n, b, n, 0, out, n);
        }
    }

    private void runOpenBlas(MemorySegment out) {
        if (f32) {
            openBlas.sgemm(OpenBlas.NO_TRANS, OpenBlas.NO_TRANS, n, n, n, 1f, a, n, b, n, 0f, out, n);
        } else {
            openBlas.dgemm(OpenBlas.NO_TRANS, OpenBlas.NO_TRANS, n, n, n, 1, a, n, b, n, 0, out, n);
        }
    }
}
