package dev.kernelbridge.bench;

import dev.kernelbridge.Config;
import dev.kernelbridge.DType;
import dev.kernelbridge.Device;
import dev.kernelbridge.DeviceBuffer;
import dev.kernelbridge.GemmOp;
import dev.kernelbridge.GroupedGemm;
import dev.kernelbridge.KernelBridge;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
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
 * An expert layer's up-projection as a ragged grouped GEMM on the first OpenCL device (PoCL here):
 * the one-launch grouped path ({@code grouped}) against one plain GEMM per expert on the same device
 * buffers ({@code loop}, what the backend did before it had grouped kernels), in one run. Tokens are
 * routed to experts by a skewed router (expert e gets a share proportional to 1/(e+1)), so groups are
 * ragged and the last ones small; more experts means smaller groups, where per-launch costs show.
 * Row-major F32: A tokens×hidden, B one hidden×ffn matrix per expert, C tokens×ffn. The setup checks
 * that both give the same bits.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:+UseParallelGC",
        "-Dorg.lwjgl.system.memoryBackend=org.lwjgl.system.MemoryBackendFFM"})
public class OpenClGroupedGemmBenchmark {
    @Param({"grouped", "loop"})
    public String impl;

    @Param({"8", "64"})
    public int experts;

    /** 1024: a prefill-sized batch; 128: decoding, where most experts get a handful of tokens. */
    @Param({"1024", "128"})
    public int tokens;

    @Param({"256"})
    public int hidden;

    @Param({"512"})
    public int ffn;

    private Path cache;
    private KernelBridge bridge;
    private DeviceBuffer da, db, dc;
    private GroupedGemm.Ragged ragged;
    private final List<GemmOp> perExpert = new ArrayList<>();

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        long[] offsets = skewed(experts, tokens);
        cache = Files.createTempDirectory("kernelbridge-bench-cache");
        bridge = KernelBridge.open(Config.defaults().with(Config.BACKEND, "opencl").with(Config.CACHE_DIR, cache.toString()));
        Device device = bridge.device("opencl:0");
        SplittableRandom rnd = new SplittableRandom(1);
        try (Arena arena = Arena.ofConfined()) {
            da = bridge.allocate(device, DType.F32, (long) tokens * hidden).copyFrom(0, random(arena, (long) tokens * hidden, rnd));
            db = bridge.allocate(device, DType.F32, (long) experts * hidden * ffn).copyFrom(0, random(arena, (long) experts * hidden * ffn, rnd));
        }
        dc = bridge.allocate(device, DType.F32, (long) tokens * ffn);
        ragged = GroupedGemm.Ragged.builder().offsets(offsets).shape(ffn, hidden).a(da).b(db).c(dc).build();
        for (int e = 0; e < experts; e++) {
            long m = offsets[e + 1] - offsets[e];
            if (m > 0) {
                perExpert.add(GemmOp.builder().shape(m, ffn, hidden).a(da, offsets[e] * hidden, hidden)
                        .b(db, (long) e * hidden * ffn, ffn).c(dc, offsets[e] * ffn, ffn).build());
            }
        }
        float[] grouped = run("grouped"), loop = run("loop");
        if (!java.util.Arrays.equals(grouped, loop)) {
            throw new IllegalStateException("the grouped launch and the per-expert loop disagree");
        }
    }

    private float[] run(String how) {
        String saved = impl;
        impl = how;
        gemm();
        impl = saved;
        return dc.toFloatArray();
    }

    /** Group boundaries: expert e gets about tokens·(1/(e+1))/H rows (H the harmonic sum), the rest to expert 0. */
    static long[] skewed(int experts, int tokens) {
        double h = 0;
        for (int e = 0; e < experts; e++) {
            h += 1.0 / (e + 1);
        }
        long[] offsets = new long[experts + 1];
        long given = 0;
        for (int e = 1; e < experts; e++) {
            given += (long) Math.floor(tokens / h / (e + 1));
        }
        offsets[1] = tokens - given;
        for (int e = 1; e < experts; e++) {
            offsets[e + 1] = offsets[e] + (long) Math.floor(tokens / h / (e + 1));
        }
        return offsets;
    }

    private static MemorySegment random(Arena arena, long count, SplittableRandom rnd) {
        MemorySegment s = arena.allocate(4 * count, 64);
        for (long i = 0; i < count; i++) {
            s.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) rnd.nextDouble(-1, 1));
        }
        return s;
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        da.close();
        db.close();
        dc.close();
        bridge.close();
        try (var files = Files.walk(cache)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    @Benchmark
    public void gemm() {
        if (impl.equals("grouped")) {
            bridge.groupedGemm().run(ragged);
        } else {
            for (GemmOp op : perExpert) {
                bridge.gemm(op);
            }
        }
    }
}
