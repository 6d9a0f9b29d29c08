package dev.kernelbridge.bench;

import dev.kernelbridge.Communicator;
import dev.kernelbridge.DType;
import dev.kernelbridge.DeviceBuffer;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.ReduceOp;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The latency of an in-process all-reduce as a framework issues it: every rank on a thread of its
 * own, calling the blocking {@code allReduce} back to back, so the calls meet in shared memory with
 * no hand-off to a rank thread ({@link AllReduceBenchmark} times the asynchronous form, which hands
 * each call to its rank's thread). Rank 0 runs on the benchmark thread; the others on threads that
 * start each batch of {@value #CALLS} calls when the benchmark does, so every rank issues exactly the
 * same number of calls (a loop timed per rank would leave one rank waiting for a call that never comes).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:+UseParallelGC"})
public class AllReduceLatencyBenchmark {
    static final int CALLS = 200;

    @Param({"2"})
    public int ranks;

    @Param({"4"})
    public int kib;

    private KernelBridge bridge;
    private List<Communicator> comms;
    private final List<DeviceBuffer> sends = new ArrayList<>(), recvs = new ArrayList<>();
    private final List<Thread> peers = new ArrayList<>();
    private final AtomicLong batch = new AtomicLong(), finished = new AtomicLong();
    private volatile boolean stop;
    private long count;

    @Setup(Level.Trial)
    public void setUp() {
        bridge = KernelBridge.open(dev.kernelbridge.Config.defaults().with(dev.kernelbridge.Config.BACKEND, "cpu"));
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
        for (int r = 1; r < ranks; r++) {
            int rank = r;
            peers.add(Thread.ofPlatform().daemon().name("rank-" + r).start(() -> peer(rank)));
        }
    }

    /** A peer rank: waits for the next batch, runs it, says so. */
    private void peer(int rank) {
        long seen = 0;
        while (true) {
            long spinStart = System.nanoTime();
            while (batch.get() == seen) {
                if (stop) {
                    return;
                }
                if (System.nanoTime() - spinStart < 1_000_000) {
                    Thread.onSpinWait();
                } else {
                    LockSupport.parkNanos(100_000); // between iterations: let the other cores be
                }
            }
            seen++;
            for (int c = 0; c < CALLS; c++) {
                comms.get(rank).allReduce(sends.get(rank), recvs.get(rank), count, ReduceOp.SUM);
            }
            finished.incrementAndGet();
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws InterruptedException {
        stop = true;
        for (Thread t : peers) {
            t.join();
        }
        comms.forEach(Communicator::close);
        bridge.close();
    }

    @Benchmark
    @OperationsPerInvocation(CALLS)
    public void allReduce() {
        long b = batch.incrementAndGet();
        for (int c = 0; c < CALLS; c++) {
            comms.getFirst().allReduce(sends.getFirst(), recvs.getFirst(), count, ReduceOp.SUM);
        }
        while (finished.get() < b * (ranks - 1)) {
            Thread.onSpinWait();
        }
    }
}
