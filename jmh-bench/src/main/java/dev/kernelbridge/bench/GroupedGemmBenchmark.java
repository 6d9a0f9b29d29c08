package dev.kernelbridge.bench;

import dev.kernelbridge.Config;
import dev.kernelbridge.DType;
import dev.kernelbridge.GroupedGemm;
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
 * The up-projection of {@link MoeLayer#MIXTRAL_SCALED}, F32, row-major, every core: C_g := A_g·B_g
 * for each expert g, A_g the m_g routed rows (Σm×hidden, ragged by the router) and B_g the expert's
 * hidden×ffn weights. Three ways, one run:
 * <ul>
 *   <li>{@code grouped}: ours, one {@link GroupedGemm#gemmRagged} call;</li>
 *   <li>{@code openblas-loop}: one cblas_sgemm per expert, as a framework would write it on a BLAS
 *       without a grouped entry point (OpenBLAS 0.3 has none);</li>
 *   <li>{@code single}: our one GEMM of the same FLOPs (Σm×hidden times one hidden×ffn B), the
 *       ceiling a grouped call can reach.</li>
 * </ul>
 * The setup checks a sample of C against dot products in double before anything is timed, so a
 * path that computes garbage fails instead of winning.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:+UseParallelGC"})
public class GroupedGemmBenchmark {
    @Param({"grouped", "openblas-loop", "single"})
    public String impl;

    private final MoeLayer layer = MoeLayer.MIXTRAL_SCALED;
    private long[] offsets;
    private Arena arena;
    private MemorySegment a, b, c;
    private KernelBridge bridge;
    private OpenBlas openBlas;
    private Runnable call;

    @Setup(Level.Trial)
    public void setUp() {
        offsets = layer.offsets();
        long rows = layer.rows(), k = layer.hidden(), n = layer.ffn();
        arena = Arena.ofShared();
        a = arena.allocate(4 * rows * k, 64);
        b = arena.allocate(4 * layer.experts() * k * n, 64);
        c = arena.allocate(4 * rows * n, 64);
        SplittableRandom rnd = new SplittableRandom(7);
        for (long i = 0; i < rows * k; i++) {
            a.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) rnd.nextDouble(-1, 1));
        }
        for (long i = 0; i < layer.experts() * k * n; i++) {
            b.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) rnd.nextDouble(-1, 1));
        }
        int threads = Runtime.getRuntime().availableProcessors();
        switch (impl) {
            case "grouped" -> {
                bridge = KernelBridge.open(Config.defaults().with(Config.BACKEND, "cpu").with(dev.kernelbridge.cpu.routines.CpuRoutineProvider.SETTING, "vector"));
                GroupedGemm grouped = bridge.groupedGemm();
                call = () -> grouped.gemmRagged(Layout.ROW_MAJOR, Transpose.NO_TRANS, Transpose.NO_TRANS, offsets, n, k, 1.0,
                        DType.F32, a, k, b, n, k * n, 0.0, DType.F32, c, n);
            }
            case "single" -> {
                bridge = KernelBridge.open(Config.defaults().with(Config.BACKEND, "cpu").with(dev.kernelbridge.cpu.routines.CpuRoutineProvider.SETTING, "vector"));
                var blas = bridge.blas();
                call = () -> blas.sgemm(Layout.ROW_MAJOR, Transpose.NO_TRANS, Transpose.NO_TRANS, rows, n, k, 1f, a, k, b, n, 0f, c, n);
            }
            case "openblas-loop" -> {
                openBlas = OpenBlas.get().orElseThrow(() -> new IllegalStateException(
                        "peer unavailable: libopenblas.so.0 is not installed (ci/setup bench installs it)"));
                openBlas.setThreads(threads);
                call = this::openBlasLoop;
            }
            default -> throw new IllegalArgumentException("unknown impl " + impl);
        }
        call.run();
        check();
    }

    /** Row-major C_g = A_g·B_g is column-major C_gᵀ = B_gᵀ·A_gᵀ: the same memory, no transposes. */
    private void openBlasLoop() {
        int k = layer.hidden(), n = layer.ffn();
        for (int g = 0; g < layer.experts(); g++) {
            int m = (int) (offsets[g + 1] - offsets[g]);
            if (m > 0) {
                openBlas.sgemm(OpenBlas.NO_TRANS, OpenBlas.NO_TRANS, n, m, k, 1f, b.asSlice(4L * g * k * n), n,
                        a.asSlice(4 * offsets[g] * k), k, 0f, c.asSlice(4 * offsets[g] * n), n);
            }
        }
    }

    /**
     * About 1024 elements of C against a dot product in double, within the F32 accumulation bound
     * 2·k·u·gauge (|a|, |b| ≤ 1, so a dot product's gauge is ≤ k). {@code single} uses expert 0's B
     * for every row.
     */
    private void check() {
        long rows = layer.rows(), k = layer.hidden(), n = layer.ffn();
        double bound = 2.0 * k * 0x1p-24 * k;
        for (long e = 0; e < rows * n; e += rows * n / 1024 + 1) {
            long i = e / n, j = e % n;
            int g = impl.equals("single") ? 0 : group(i);
            double dot = 0;
            for (long p = 0; p < k; p++) {
                dot += (double) a.getAtIndex(ValueLayout.JAVA_FLOAT, i * k + p) * b.getAtIndex(ValueLayout.JAVA_FLOAT, g * k * n + p * n + j);
            }
            float got = c.getAtIndex(ValueLayout.JAVA_FLOAT, e);
            if (!(Math.abs(got - dot) <= bound)) {
                throw new IllegalStateException(impl + " is wrong at (" + i + ", " + j + ") of expert " + g + ": " + got + ", expected " + dot);
            }
        }
    }

    private int group(long row) {
        int g = 0;
        while (offsets[g + 1] <= row) {
            g++;
        }
        return g;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (bridge != null) {
            bridge.close();
        }
        arena.close();
    }

    @Benchmark
    public void upProjection() {
        call.run();
    }
}
