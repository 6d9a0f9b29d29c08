package dev.kernelbridge.bench;

import dev.kernelbridge.Communicator;
import dev.kernelbridge.Config;
import dev.kernelbridge.DType;
import dev.kernelbridge.DeviceBuffer;
import dev.kernelbridge.KernelBridge;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
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
 * The dispatch all-to-all of an MoE layer ({@link MoeLayer#MIXTRAL_SCALED} with {@code tokens}
 * tokens): in-process allToAllV over {@code ranks} CPU ranks on cpu:0, F32, each rank sending the
 * hidden-wide rows its tokens route to the experts of every rank (ragged: the router is skewed).
 * Its bound is measured in the same run by {@link #copyBound}: each rank's thread copies, with one
 * plain memcpy, as many bytes as that rank receives. An all-to-all must move every received byte at
 * least once, so it cannot beat the copy; what it adds is the hand-off, the agreement check and
 * the barriers.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:+UseParallelGC"})
public class AllToAllBenchmark {
    @Param({"2", "4"})
    public int ranks;

    /** Tokens of the layer: 4096 routes 8192 rows of 4 KiB, 32 MiB in all. */
    @Param({"4096"})
    public int tokens;

    private KernelBridge bridge;
    private List<Communicator> comms;
    private final List<DeviceBuffer> sends = new ArrayList<>(), recvs = new ArrayList<>();
    private long[][] sendCounts, sendDispls, recvCounts, recvDispls;
    private Arena arena;
    private MemorySegment[] copyFrom, copyTo;
    private ExecutorService copiers;

    @Setup(Level.Trial)
    public void setUp() {
        MoeLayer layer = MoeLayer.MIXTRAL_SCALED.withTokens(tokens);
        long[][] rows = layer.rowsBetweenRanks(ranks);
        sendCounts = new long[ranks][ranks];
        sendDispls = new long[ranks][ranks];
        recvCounts = new long[ranks][ranks];
        recvDispls = new long[ranks][ranks];
        long[] sendTotal = new long[ranks], recvTotal = new long[ranks];
        for (int r = 0; r < ranks; r++) {
            for (int p = 0; p < ranks; p++) {
                sendCounts[r][p] = rows[r][p] * layer.hidden();
                sendDispls[r][p] = sendTotal[r];
                sendTotal[r] += sendCounts[r][p];
                recvCounts[r][p] = rows[p][r] * layer.hidden();
                recvDispls[r][p] = recvTotal[r];
                recvTotal[r] += recvCounts[r][p];
            }
        }
        bridge = KernelBridge.open(Config.defaults().with(Config.BACKEND, "cpu"));
        comms = bridge.communicators(ranks);
        for (int r = 0; r < ranks; r++) {
            float[] values = new float[(int) sendTotal[r]];
            for (int i = 0; i < values.length; i++) {
                values[i] = value(r, i);
            }
            sends.add(bridge.allocate(DType.F32, sendTotal[r]).copyFrom(values));
            recvs.add(bridge.allocate(DType.F32, recvTotal[r]));
        }
        allToAllV();
        check();
        arena = Arena.ofShared();
        copyFrom = new MemorySegment[ranks];
        copyTo = new MemorySegment[ranks];
        for (int r = 0; r < ranks; r++) {
            copyFrom[r] = arena.allocate(4 * recvTotal[r], 64).fill((byte) 1);
            copyTo[r] = arena.allocate(4 * recvTotal[r], 64).fill((byte) 2);
        }
        copiers = Executors.newFixedThreadPool(ranks);
    }

    /** Element i of rank r's send: distinct per rank and position (exact in F32 below 2^24). */
    private static float value(int rank, long i) {
        return (rank * 7919L + i) % 65521;
    }

    /** Every received block must be the sender's block, element for element. */
    private void check() {
        for (int r = 0; r < ranks; r++) {
            float[] got = recvs.get(r).toFloatArray();
            for (int p = 0; p < ranks; p++) {
                for (long e = 0; e < recvCounts[r][p]; e++) {
                    float want = value(p, sendDispls[p][r] + e);
                    if (got[(int) (recvDispls[r][p] + e)] != want) {
                        throw new IllegalStateException("allToAllV: rank " + r + " has " + got[(int) (recvDispls[r][p] + e)] + " at element " + e
                                + " of the block from rank " + p + ", expected " + want);
                    }
                }
            }
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        copiers.shutdown();
        comms.forEach(Communicator::close);
        bridge.close();
        arena.close();
    }

    @Benchmark
    public void allToAllV() {
        CompletableFuture<?>[] calls = new CompletableFuture<?>[ranks];
        for (int r = 0; r < ranks; r++) {
            calls[r] = comms.get(r).allToAllVAsync(sends.get(r), sendCounts[r], sendDispls[r], recvs.get(r), recvCounts[r], recvDispls[r],
                    Duration.ofSeconds(60));
        }
        CompletableFuture.allOf(calls).join();
    }

    /** The bound: every rank's thread copies the bytes that rank receives, all ranks at once. */
    @Benchmark
    public void copyBound() throws Exception {
        Future<?>[] parts = new Future<?>[ranks];
        for (int r = 0; r < ranks; r++) {
            MemorySegment from = copyFrom[r], to = copyTo[r];
            parts[r] = copiers.submit(() -> MemorySegment.copy(from, 0, to, 0, to.byteSize()));
        }
        for (Future<?> f : parts) {
            f.get();
        }
    }

    /** Bytes every call moves: what all ranks receive. */
    static long bytesMoved(int tokens) {
        MoeLayer layer = MoeLayer.MIXTRAL_SCALED.withTokens(tokens);
        return layer.rows() * layer.hidden() * 4;
    }
}
