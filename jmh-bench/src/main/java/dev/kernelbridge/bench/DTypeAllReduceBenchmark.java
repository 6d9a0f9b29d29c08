package dev.kernelbridge.bench;

import dev.kernelbridge.Communicator;
import dev.kernelbridge.Config;
import dev.kernelbridge.DType;
import dev.kernelbridge.DeviceBuffer;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.ReduceOp;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
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
 * In-process all-reduce (sum, out of place) of a {@code mib} MiB message in {@code dtype} over
 * {@code ranks} ranks on cpu:0 (as {@link AllReduceBenchmark}). The same message size in bytes holds
 * twice the elements in BF16, so a BF16 all-reduce that is bound by memory traffic should move
 * elements up to twice as fast as F32; the report compares element rates.
 *
 * <p>The setup checks one all-reduce: every input is the same, exactly representable in BF16, so each
 * output must be exactly {@code ranks} times it.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:+UseParallelGC"})
public class DTypeAllReduceBenchmark {
    @Param({"f32", "bf16"})
    public String dtype;

    @Param({"16", "64"})
    public int mib;

    /** As many ranks as the 2 threads of the GEMM targets. */
    static final String RANKS = "2";

    @Param({RANKS})
    public int ranks;

    private KernelBridge bridge;
    private List<Communicator> comms;
    private final List<DeviceBuffer> sends = new ArrayList<>(), recvs = new ArrayList<>();
    private long count;

    @Setup(Level.Trial)
    public void setUp() {
        DType type = DType.valueOf(dtype.toUpperCase(Locale.ROOT));
        bridge = KernelBridge.open(Config.defaults().with(Config.BACKEND, "cpu"));
        comms = bridge.communicators(ranks);
        count = (long) mib * 1024 * 1024 / type.byteSize();
        float[] values = new float[Math.toIntExact(count)];
        for (int i = 0; i < values.length; i++) {
            values[i] = (i % 256) * 0.0078125f; // k/128, k < 256: 8 significant bits at most, exact in BF16
        }
        for (int r = 0; r < ranks; r++) {
            sends.add(bridge.allocate(type, count).copyFrom(values));
            recvs.add(bridge.allocate(type, count));
        }
        allReduce();
        float[] out = new float[values.length];
        recvs.get(ranks - 1).copyTo(out);
        for (int i = 0; i < out.length; i += 4099) {
            if (out[i] != ranks * values[i]) {
                throw new IllegalStateException(dtype + " all-reduce of " + ranks + " ranks is wrong at " + i + ": " + out[i] + ", expected " + ranks * values[i]);
            }
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        comms.forEach(Communicator::close);
        bridge.close();
    }

    @Benchmark
    public void allReduce() {
        CompletableFuture<?>[] calls = new CompletableFuture<?>[ranks];
        for (int r = 0; r < ranks; r++) {
            calls[r] = comms.get(r).allReduceAsync(sends.get(r), recvs.get(r), count, ReduceOp.SUM, Duration.ofSeconds(60));
        }
        CompletableFuture.allOf(calls).join();
    }
}
