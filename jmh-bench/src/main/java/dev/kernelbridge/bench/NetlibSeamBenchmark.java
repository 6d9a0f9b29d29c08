package dev.kernelbridge.bench;

import dev.kernelbridge.netlib.LudovicBLAS;
import dev.ludovic.netlib.blas.JavaBLAS;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
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
 * What Spark's and Breeze's BLAS calls get from the netlib seam: square column-major SGEMM and DGEMM
 * on Java arrays through {@code dev.ludovic.netlib}'s interface with KernelBridge behind it
 * ({@code seam}: cpu:0 choosing its routine per shape), against OpenBLAS called directly through FFM
 * on native memory ({@code openblas-direct}, the floor) and the library's own Java BLAS
 * ({@code ludovic-java}, what those frameworks run without a native BLAS). Only cpu:0 is opened
 * (kernelbridge.backend=cpu), so the figures compare routines on the same cores. The operands are
 * small integers, so all three give the same bits, checked before timing.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:+UseParallelGC",
        "-Dkernelbridge.backend=cpu"})
public class NetlibSeamBenchmark {
    @Param({"seam", "openblas-direct", "ludovic-java"})
    public String impl;

    @Param({"f32", "f64"})
    public String dtype;

    @Param({"64", "256", "1024"})
    public int n;

    private float[] sa, sb, sc;
    private double[] da, db, dc;
    private Arena arena;
    private MemorySegment na, nb, nc;
    private OpenBlas openBlas;

    @Setup(Level.Trial)
    public void setUp() {
        int size = n * n;
        SplittableRandom rnd = new SplittableRandom(64);
        sa = new float[size];
        sb = new float[size];
        sc = new float[size];
        da = new double[size];
        db = new double[size];
        dc = new double[size];
        for (int i = 0; i < size; i++) {
            sa[i] = rnd.nextInt(9) - 4;
            sb[i] = rnd.nextInt(9) - 4;
            da[i] = sa[i];
            db[i] = sb[i];
        }
        openBlas = OpenBlas.get().orElseThrow(() -> new IllegalStateException("peer unavailable: libopenblas.so.0 is not installed"));
        openBlas.setThreads(Runtime.getRuntime().availableProcessors());
        arena = Arena.ofShared();
        boolean f32 = dtype.equals("f32");
        long es = f32 ? 4 : 8;
        na = arena.allocate(es * size, 64);
        nb = arena.allocate(es * size, 64);
        nc = arena.allocate(es * size, 64);
        if (f32) {
            MemorySegment.copy(sa, 0, na, ValueLayout.JAVA_FLOAT, 0, size);
            MemorySegment.copy(sb, 0, nb, ValueLayout.JAVA_FLOAT, 0, size);
        } else {
            MemorySegment.copy(da, 0, na, ValueLayout.JAVA_DOUBLE, 0, size);
            MemorySegment.copy(db, 0, nb, ValueLayout.JAVA_DOUBLE, 0, size);
        }
        gemm();
        String impl = this.impl;
        this.impl = "openblas-direct";
        gemm();
        this.impl = impl;
        boolean same = f32 ? Arrays.equals(sc, nc.toArray(ValueLayout.JAVA_FLOAT)) : Arrays.equals(dc, nc.toArray(ValueLayout.JAVA_DOUBLE));
        if (!impl.equals("openblas-direct") && !same) {
            throw new IllegalStateException(dtype + " n=" + n + " " + impl + ": the result differs from OpenBLAS's");
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public void gemm() {
        boolean f32 = dtype.equals("f32");
        switch (impl) {
            case "seam" -> {
                if (f32) {
                    LudovicBLAS.getInstance().sgemm("N", "N", n, n, n, 1f, sa, n, sb, n, 0f, sc, n);
                } else {
                    LudovicBLAS.getInstance().dgemm("N", "N", n, n, n, 1.0, da, n, db, n, 0.0, dc, n);
                }
            }
            case "openblas-direct" -> {
                if (f32) {
                    openBlas.sgemm(OpenBlas.NO_TRANS, OpenBlas.NO_TRANS, n, n, n, 1f, na, n, nb, n, 0f, nc, n);
                } else {
                    openBlas.dgemm(OpenBlas.NO_TRANS, OpenBlas.NO_TRANS, n, n, n, 1.0, na, n, nb, n, 0.0, nc, n);
                }
            }
            case "ludovic-java" -> {
                if (f32) {
                    JavaBLAS.getInstance().sgemm("N", "N", n, n, n, 1f, sa, n, sb, n, 0f, sc, n);
                } else {
                    JavaBLAS.getInstance().dgemm("N", "N", n, n, n, 1.0, da, n, db, n, 0.0, dc, n);
                }
            }
            default -> throw new IllegalArgumentException("impl " + impl);
        }
    }
}
