package dev.kernelbridge.bench;

import dev.kernelbridge.Blas;
import dev.kernelbridge.Config;
import dev.kernelbridge.DType;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.Layout;
import dev.kernelbridge.NarrowFloat;
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
 * Square row-major GEMM, C := A·B, in the ML storage types, on {@code threads} threads: ours in F32
 * (the yardstick of the mixed-precision targets), BF16 and F16 → F32 (sbgemm, shgemm) and I8 → I32;
 * oneDNN's sgemm, bf16bf16f32 and s8s8s32 on the same kind of data. Row-major because oneDNN's
 * GEMMs are; ours take either layout at the same cost.
 *
 * <p>Before anything is timed the setup checks a sample of C against a dot product in double
 * (integers: exactly; floats: within the F32 accumulation bound), so a path that computes garbage
 * fails loudly instead of winning.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:+UseParallelGC"})
public class DTypeGemmBenchmark {
    /** Implementation and type pair: {@code kernelbridge-<f32|bf16|f16|i8>}, {@code onednn-<f32|bf16|s8s8s32|u8s8s32>}. */
    @Param({"kernelbridge-f32", "kernelbridge-bf16", "kernelbridge-f16", "kernelbridge-i8", "onednn-f32", "onednn-bf16", "onednn-s8s8s32"})
    public String kernel;

    @Param({"512", "1024", "2048", "4096"})
    public int n;

    /** The targets are stated on 2 threads. */
    static final String THREADS = "2";

    /** Threads of whichever library runs. */
    @Param({THREADS})
    public int threads;

    private Arena arena;
    private KernelBridge bridge;
    private Blas blas;
    private OneDnn oneDnn;
    private MemorySegment a, b, c;
    private Runnable call;

    /** Storage type of A and B for this kernel (U8 data is I8 bits read unsigned). */
    private DType input() {
        String type = kernel.substring(kernel.indexOf('-') + 1);
        return switch (type) {
            case "f32" -> DType.F32;
            case "bf16" -> DType.BF16;
            case "f16" -> DType.F16;
            case "i8", "s8s8s32", "u8s8s32" -> DType.I8;
            default -> throw new IllegalArgumentException("unknown kernel " + kernel);
        };
    }

    @Setup(Level.Trial)
    public void setUp() {
        DType in = input();
        long elements = (long) n * n;
        arena = Arena.ofShared();
        a = arena.allocate(elements * in.byteSize(), 64);
        b = arena.allocate(elements * in.byteSize(), 64);
        c = arena.allocate(elements * 4, 64);
        boolean unsignedA = kernel.endsWith("u8s8s32");
        SplittableRandom rnd = new SplittableRandom(1);
        for (long i = 0; i < elements; i++) {
            store(in, a, i, rnd, unsignedA);
            store(in, b, i, rnd, false);
        }
        if (kernel.startsWith("kernelbridge-")) {
            bridge = KernelBridge.open(Config.defaults().with(Config.BACKEND, "cpu").with(dev.kernelbridge.cpu.routines.CpuRoutineProvider.SETTING, "vector").with(Config.CPU_THREADS, String.valueOf(threads)));
            blas = bridge.blas();
            call = switch (in) {
                case F32 -> () -> blas.sgemm(Layout.ROW_MAJOR, Transpose.NO_TRANS, Transpose.NO_TRANS, n, n, n, 1f, a, n, b, n, 0f, c, n);
                case BF16 -> () -> blas.sbgemm(Layout.ROW_MAJOR, Transpose.NO_TRANS, Transpose.NO_TRANS, n, n, n, 1f, a, n, b, n, 0f, c, n);
                case F16 -> () -> blas.shgemm(Layout.ROW_MAJOR, Transpose.NO_TRANS, Transpose.NO_TRANS, n, n, n, 1f, a, n, b, n, 0f, c, n);
                default -> () -> blas.gemm(Layout.ROW_MAJOR, Transpose.NO_TRANS, Transpose.NO_TRANS, n, n, n, 1, DType.I8, a, n, b, n,
                        0, DType.I32, c, n);
            };
        } else {
            oneDnn = OneDnn.get().orElseThrow(() -> new IllegalStateException(
                    "peer unavailable: libdnnl.so.2 is not installed (ci/setup bench installs libdnnl2)"));
            oneDnn.setThreads(threads);
            call = switch (kernel) {
                case "onednn-f32" -> () -> oneDnn.sgemm(n, n, n, 1f, a, n, b, n, 0f, c, n);
                case "onednn-bf16" -> () -> oneDnn.gemmBf16Bf16F32(n, n, n, 1f, a, n, b, n, 0f, c, n);
                case "onednn-s8s8s32" -> () -> oneDnn.gemmS8S8S32(n, n, n, 1f, a, n, (byte) 0, b, n, (byte) 0, 0f, c, n);
                case "onednn-u8s8s32" -> () -> oneDnn.gemmU8S8S32(n, n, n, 1f, a, n, (byte) 0, b, n, (byte) 0, 0f, c, n);
                default -> throw new IllegalArgumentException("unknown kernel " + kernel);
            };
        }
        call.run();
        check(in, unsignedA);
    }

    /** oneDNN's OpenMP thread count is per calling thread: set it on the thread that runs the iteration. */
    @Setup(Level.Iteration)
    public void threadsOnThisThread() {
        if (oneDnn != null) {
            oneDnn.setThreads(threads);
        }
    }

    /** Floats uniform in [-1, 1) rounded to the storage type; integers uniform over the whole byte. */
    private static void store(DType type, MemorySegment s, long i, SplittableRandom rnd, boolean unsigned) {
        switch (type) {
            case F32 -> s.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) rnd.nextDouble(-1, 1));
            case BF16 -> s.setAtIndex(ValueLayout.JAVA_SHORT, i, NarrowFloat.toBf16((float) rnd.nextDouble(-1, 1)));
            case F16 -> s.setAtIndex(ValueLayout.JAVA_SHORT, i, NarrowFloat.toF16((float) rnd.nextDouble(-1, 1)));
            default -> s.set(ValueLayout.JAVA_BYTE, i, (byte) rnd.nextInt(unsigned ? 0 : -128, unsigned ? 256 : 128));
        }
    }

    private static double load(DType type, MemorySegment s, long i, boolean unsigned) {
        return switch (type) {
            case F32 -> s.getAtIndex(ValueLayout.JAVA_FLOAT, i);
            case BF16 -> NarrowFloat.fromBf16(s.getAtIndex(ValueLayout.JAVA_SHORT, i));
            case F16 -> NarrowFloat.fromF16(s.getAtIndex(ValueLayout.JAVA_SHORT, i));
            default -> unsigned ? Byte.toUnsignedInt(s.get(ValueLayout.JAVA_BYTE, i)) : s.get(ValueLayout.JAVA_BYTE, i);
        };
    }

    /**
     * About 1024 elements of C against a dot product in double: exact for I8 (|sum| ≤ 255·128·n fits
     * an int), within 2·n·u·n for F32 accumulation (|a|, |b| ≤ 1, so each dot product's gauge is ≤ n).
     */
    private void check(DType in, boolean unsignedA) {
        long elements = (long) n * n;
        double bound = in == DType.I8 ? 0 : 2.0 * n * 0x1p-24 * n;
        for (long e = 0; e < elements; e += Math.max(1, elements / 1024 + 1)) {
            long i = e / n, j = e % n;
            double dot = 0;
            for (long p = 0; p < n; p++) {
                dot += load(in, a, i * n + p, unsignedA) * load(in, b, p * n + j, false);
            }
            double got = in == DType.I8 ? c.getAtIndex(ValueLayout.JAVA_INT, e) : c.getAtIndex(ValueLayout.JAVA_FLOAT, e);
            if (!(Math.abs(got - dot) <= bound)) {
                String who = oneDnn != null ? "oneDNN " + oneDnn.version() : "KernelBridge";
                throw new IllegalStateException(who + " " + kernel + " at n = " + n + " is wrong at (" + i + ", " + j + "): " + got + ", expected " + dot);
            }
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (bridge != null) {
            bridge.close();
        }
        arena.close();
    }

    @Benchmark
    public void gemm() {
        call.run();
    }
}
