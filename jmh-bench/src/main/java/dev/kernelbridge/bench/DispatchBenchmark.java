package dev.kernelbridge.bench;

import dev.kernelbridge.Blas;
import dev.kernelbridge.Config;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.Layout;
import dev.kernelbridge.Transpose;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
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
 * What a call costs before any arithmetic: an 8×8×8 SGEMM through KernelBridge (argument checks,
 * lifetimes, dispatch to the CPU backend) against the same call into OpenBLAS through FFM, and
 * the bare cost of an FFM downcall (openblas_get_num_threads, which does nothing) — the floor of
 * every native backend call.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:+UseParallelGC"})
public class DispatchBenchmark {
    private static final int N = 8;

    /** cpu:0's routine: chosen per shape ({@code auto}), our Vector API kernels, or OpenBLAS's. */
    @Param({"auto", "vector", "openblas"})
    public String routine;

    private KernelBridge bridge;
    private Blas blas;
    private OpenBlas openBlas;
    private Arena arena;
    private MemorySegment a, b, c;

    @Setup(Level.Trial)
    public void setUp() {
        bridge = KernelBridge.open(Config.defaults().with(Config.BACKEND, "cpu").with(dev.kernelbridge.cpu.routines.CpuRoutineProvider.SETTING, routine));
        blas = bridge.blas();
        openBlas = OpenBlas.get().orElseThrow(() -> new IllegalStateException("peer unavailable: libopenblas.so.0 is not installed"));
        openBlas.setThreads(1);
        arena = Arena.ofShared();
        a = arena.allocate(4 * N * N, 64);
        b = arena.allocate(4 * N * N, 64);
        c = arena.allocate(4 * N * N, 64);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        bridge.close();
        arena.close();
    }

    @Benchmark
    public void tinyGemmKernelBridge() {
        blas.sgemm(Layout.COLUMN_MAJOR, Transpose.NO_TRANS, Transpose.NO_TRANS, N, N, N, 1f, a, N, b, N, 0f, c, N);
    }

    @Benchmark
    public void tinyGemmOpenBlas() {
        openBlas.sgemm(OpenBlas.NO_TRANS, OpenBlas.NO_TRANS, N, N, N, 1f, a, N, b, N, 0f, c, N);
    }

    @Benchmark
    public int ffmDowncall() {
        return openBlas.threads();
    }
}
