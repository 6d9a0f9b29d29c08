package dev.kernelbridge.bench;

import dev.kernelbridge.Config;
import dev.kernelbridge.DType;
import dev.kernelbridge.Device;
import dev.kernelbridge.DeviceBuffer;
import dev.kernelbridge.GemmOp;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.Layout;
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
 * Square column-major SGEMM, C := A·B, on the first OpenCL device (PoCL here): KernelBridge's
 * OpenCL backend with its shipped tuning (a fresh cache directory, so a user's own tuning does not
 * count) against CLBlast on the same device, and OpenBLAS on the same cores, in one run. Operands
 * stay on the device for both OpenCL paths. The setup checks that all three agree.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:+UseParallelGC",
        "-Dorg.lwjgl.system.memoryBackend=org.lwjgl.system.MemoryBackendFFM"})
public class OpenClGemmBenchmark {
    @Param({"kernelbridge-opencl", "clblast", "openblas"})
    public String impl;

    @Param({"512", "1024", "2048"})
    public int n;

    private Arena arena;
    private MemorySegment a, b, c;
    private KernelBridge bridge;
    private DeviceBuffer da, db, dc;
    private GemmOp op;
    private ClBlast clblast;
    private long ca, cb, cc;
    private OpenBlas openBlas;
    private Path cache;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        arena = Arena.ofShared();
        long bytes = 4L * n * n;
        a = arena.allocate(bytes, 64);
        b = arena.allocate(bytes, 64);
        c = arena.allocate(bytes, 64);
        SplittableRandom rnd = new SplittableRandom(1);
        for (long i = 0; i < (long) n * n; i++) {
            a.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) rnd.nextDouble(-1, 1));
            b.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) rnd.nextDouble(-1, 1));
        }
        cache = Files.createTempDirectory("kernelbridge-bench-cache");
        bridge = KernelBridge.open(Config.defaults().with(Config.BACKEND, "opencl").with(Config.CACHE_DIR, cache.toString()));
        Device device = bridge.device("opencl:0");
        da = bridge.allocate(device, DType.F32, (long) n * n).copyFrom(0, a);
        db = bridge.allocate(device, DType.F32, (long) n * n).copyFrom(0, b);
        dc = bridge.allocate(device, DType.F32, (long) n * n);
        op = GemmOp.builder().layout(Layout.COLUMN_MAJOR).shape(n, n, n).a(da).b(db).beta(0).c(dc).build();
        bridge.gemm(op);
        MemorySegment ours = arena.allocate(bytes, 64);
        dc.copyTo(0, ours);
        clblast = ClBlast.open().orElse(null);
        openBlas = OpenBlas.get().orElse(null);
        if (clblast != null) {
            ca = clblast.upload(a);
            cb = clblast.upload(b);
            cc = clblast.upload(c);
            clblast.sgemm(n, ca, cb, cc);
            MemorySegment theirs = arena.allocate(bytes, 64);
            clblast.download(cc, theirs);
            agree(ours, theirs, "CLBlast");
        } else if (impl.equals("clblast")) {
            throw new IllegalStateException("peer unavailable: libclblast.so.1 is not installed (ci/setup bench installs it)");
        }
        if (openBlas != null) {
            openBlas.setThreads(Runtime.getRuntime().availableProcessors());
            openBlas.sgemm(OpenBlas.NO_TRANS, OpenBlas.NO_TRANS, n, n, n, 1f, a, n, b, n, 0f, c, n);
            agree(ours, c, "OpenBLAS");
        } else if (impl.equals("openblas")) {
            throw new IllegalStateException("peer unavailable: libopenblas.so.0 is not installed (ci/setup bench installs it)");
        }
    }

    private void agree(MemorySegment ours, MemorySegment theirs, String peer) {
        double bound = 2.0 * n * 0x1p-24 * n;
        for (long i = 0; i < (long) n * n; i += Math.max(1, (long) n * n / 4096)) {
            float x = ours.getAtIndex(ValueLayout.JAVA_FLOAT, i), y = theirs.getAtIndex(ValueLayout.JAVA_FLOAT, i);
            if (!(Math.abs(x - y) <= bound)) {
                throw new IllegalStateException("KernelBridge OpenCL and " + peer + " disagree at " + i + ": " + x + " vs " + y);
            }
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        if (clblast != null) {
            clblast.release(ca);
            clblast.release(cb);
            clblast.release(cc);
            clblast.close();
        }
        bridge.close();
        arena.close();
        try (var files = Files.walk(cache)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    @Benchmark
    public void sgemm() {
        switch (impl) {
            case "kernelbridge-opencl" -> bridge.gemm(op);
            case "clblast" -> clblast.sgemm(n, ca, cb, cc);
            default -> openBlas.sgemm(OpenBlas.NO_TRANS, OpenBlas.NO_TRANS, n, n, n, 1f, a, n, b, n, 0f, c, n);
        }
    }
}
