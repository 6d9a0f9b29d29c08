package dev.kernelbridge.bench;

import dev.kernelbridge.Communicator;
import dev.kernelbridge.DType;
import dev.kernelbridge.DeviceBuffer;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.ReduceOp;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
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
 * In-process all-reduce (sum, F32, out of place) of {@code kib} KiB over {@code ranks} CPU ranks,
 * one call on every rank per operation. Its limit is measured in the same run by
 * {@link CopyBandwidthBenchmark}: an all-reduce must read every input once and write every output
 * once, so its algorithm bandwidth cannot exceed BW/(2·ranks).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:+UseParallelGC"})
public class AllReduceBenchmark {
    @Param({"2", "4"})
    public int ranks;

    @Param({"4", "16384", "65536"})
    public int kib;

    private KernelBridge bridge;
    private List<Communicator> comms;
    private final List<DeviceBuffer> sends = new ArrayList<>(), recvs = new ArrayList<>();
    private long count;

    @Setup(Level.Trial)
    public void setUp() {
        bridge = KernelBridge.open(dev.kernelbridge.Config.defaults().with(dev.kernelbridge.Config.BACKEND, "cpu")); // the CPU backend's figures
        comms = bridge.communicators(ranks);
        count = (long) kib * 1024 / 4;
        float[] values = new float[(int) count];
        for (int i = 0; i < values.length; i++) {
            values[i] = (i % 1000) * 0.001f;
        }
        for (int r = 0; r < ranks; r++) {
            sends.add(bridge.allocate(DType.F32, count).copyFrom(values));
            recvs.add(bridge.allocate(DType.F32, count));
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
