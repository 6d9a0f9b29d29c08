package dev.kernelbridge.bench;

import dev.kernelbridge.Blas;
import dev.kernelbridge.Config;
import dev.kernelbridge.DeviceException;
import dev.kernelbridge.Dispatch;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.Layout;
import dev.kernelbridge.Transpose;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
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
 * One host-memory SGEMM, C := A·B (n×n, row-major), placed four ways in the same run:
 * {@code cpu} and {@code opencl} pinned to one device each, {@code split} by the SPLIT policy over
 * both, and {@code failover}: pinned to the OpenCL device whose every launch fails (injected), so each
 * call is a failed attempt plus the CPU's run. {@code failed-attempt} is that failed attempt alone
 * (fallback forbidden, the exception caught), so the failover's own cost is
 * failover − cpu − failed-attempt. Which cores each device gets is the caller's environment
 * ({@link SplitReport} runs it with disjoint and with shared cores).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 4, time = 2)
@Measurement(iterations = 6, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:+UseParallelGC",
        "-Dorg.lwjgl.system.memoryBackend=org.lwjgl.system.MemoryBackendFFM"})
public class SplitBenchmark {
    @Param({"cpu", "opencl", "split", "failover", "failed-attempt"})
    public String mode;

    @Param({"2048"})
    public int n;

    private Arena arena;
    private MemorySegment a, b, c;
    private KernelBridge bridge;
    private Blas blas;
    private Path cache;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        arena = Arena.ofShared();
        long elements = (long) n * n;
        a = arena.allocate(4 * elements, 64);
        b = arena.allocate(4 * elements, 64);
        c = arena.allocate(4 * elements, 64);
        SplittableRandom rnd = new SplittableRandom(3);
        for (long i = 0; i < elements; i++) {
            a.setAtIndex(ValueLayout.JAVA_FLOAT, i, rnd.nextInt(-2, 3));
            b.setAtIndex(ValueLayout.JAVA_FLOAT, i, rnd.nextInt(-2, 3));
        }
        cache = Files.createTempDirectory("kernelbridge-bench-");
        Config config = Config.fromEnvironment().with(Config.BACKEND, "opencl,cpu").with(Config.CACHE_DIR, cache.toString());
        if (mode.equals("failover") || mode.equals("failed-attempt")) {
            // Every launch on opencl:0 fails, and the device is never quarantined, so every call pays a failover.
            config = config.with(Config.FAULTS, "opencl:0=fail-every:1").with(Config.HEALTH_FAILURES, "1000000000");
        }
        bridge = KernelBridge.open(config);
        Dispatch dispatch = switch (mode) {
            case "cpu" -> Dispatch.pinned(bridge.device("cpu:0"));
            case "opencl", "failover" -> Dispatch.pinned(bridge.device("opencl:0"));
            case "failed-attempt" -> Dispatch.pinned(bridge.device("opencl:0")).withFallback(false);
            case "split" -> Dispatch.split(java.util.List.of(bridge.device("cpu:0"), bridge.device("opencl:0")));
            default -> throw new IllegalArgumentException("mode " + mode);
        };
        blas = bridge.blas(dispatch);
        if (!mode.equals("failed-attempt")) {
            gemm();
            check();
        }
    }

    /** Every element against the exact integer result (the inputs are small integers). */
    private void check() {
        for (int i = 0; i < n; i += 97) {
            for (int j = 0; j < n; j++) {
                long want = 0;
                for (int p = 0; p < n; p++) {
                    want += (long) a.getAtIndex(ValueLayout.JAVA_FLOAT, (long) i * n + p) * (long) b.getAtIndex(ValueLayout.JAVA_FLOAT, (long) p * n + j);
                }
                float got = c.getAtIndex(ValueLayout.JAVA_FLOAT, (long) i * n + j);
                if (got != want) {
                    throw new IllegalStateException(mode + ": C(" + i + "," + j + ") = " + got + ", expected " + want);
                }
            }
        }
    }

    private void gemm() {
        blas.sgemm(Layout.ROW_MAJOR, Transpose.NO_TRANS, Transpose.NO_TRANS, n, n, n, 1f, a, n, b, n, 0f, c, n);
    }

    @Benchmark
    public Object run() {
        if (mode.equals("failed-attempt")) {
            try {
                gemm();
                throw new IllegalStateException("the injected failure did not happen");
            } catch (DeviceException expected) {
                return expected;
            }
        }
        gemm();
        return c;
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        if (!mode.equals("failed-attempt")) {
            check();
        }
        System.out.println("# " + mode + ": " + bridge.metrics());
        bridge.close();
        arena.close();
        try (var files = Files.walk(cache)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }
}
