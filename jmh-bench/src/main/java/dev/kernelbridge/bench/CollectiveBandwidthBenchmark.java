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
 * In-process collectives, F32 and out of place, over {@code ranks} ranks, one asynchronous call on
 * every rank per operation. {@code kib} is S, each rank's full vector:
 * <ul>
 * <li>allReduce: send and recv hold S, count = S/4;
 * <li>reduceScatter: send holds S (N blocks), recv one block of S/N, recvCount = S/(4N);
 * <li>allGather: send holds one block of S/N, recv S (N blocks), sendCount = S/(4N);
 * <li>broadcast from rank 0: send and recv hold S, count = S/4 (the root's recv is written too).
 * </ul>
 * The limit is memory traffic at the copy bandwidth BW that {@link CopyBandwidthBenchmark} measures in
 * the same run (bytes read plus written, STREAM's convention): {@link #trafficBytes} is the fewest
 * bytes all N ranks together must read and write per call — every input byte that matters read once,
 * every output byte written once:
 * <ul>
 * <li>allReduce: N·S read + N·S written = 2N·S;
 * <li>reduceScatter: N·S read + N·(S/N) written = (N+1)·S;
 * <li>allGather: N·(S/N) read + N·S written = (N+1)·S;
 * <li>broadcast: S read (the root's send only) + N·S written = (N+1)·S.
 * </ul>
 * The bound time is traffic/BW; with the algorithm bandwidth S/t, the bound is BW·S/traffic —
 * BW/(2N) for all-reduce, BW/(N+1) for the other three — and algorithm bandwidth / bound is
 * bound time / measured time (1.0 = at the memory bound).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:+UseParallelGC"})
public class CollectiveBandwidthBenchmark {
    /** The kinds RatioReport times at the sizes where memory traffic decides (all-reduce has sizes of its own). */
    public static final List<String> REPORTED_KINDS = List.of("reduceScatter", "allGather", "broadcast");

    @Param({"allReduce", "reduceScatter", "allGather", "broadcast"})
    public String kind;

    @Param({"2", "4"})
    public int ranks;

    @Param({"16384", "65536"})
    public int kib;

    /**
     * cpu: ranks on the CPU backend (host memory). opencl: one rank per OpenCL device of one context
     * (PoCL: {@code POCL_DEVICES="pthread pthread"}), buffers on the devices, so all-reduce and
     * reduce-scatter fold with the devices' own kernel; PoCL's device memory is host memory, so the
     * same BW bounds it.
     */
    @Param({"cpu"})
    public String backend;

    private KernelBridge bridge;
    private List<Communicator> comms;
    private final List<DeviceBuffer> sends = new ArrayList<>(), recvs = new ArrayList<>();
    private long count;
    private Kind op;

    private enum Kind { ALL_REDUCE, REDUCE_SCATTER, ALL_GATHER, BROADCAST }

    private static Kind kind(String name) {
        return switch (name) {
            case "allReduce" -> Kind.ALL_REDUCE;
            case "reduceScatter" -> Kind.REDUCE_SCATTER;
            case "allGather" -> Kind.ALL_GATHER;
            case "broadcast" -> Kind.BROADCAST;
            default -> throw new IllegalArgumentException("kind must be allReduce, reduceScatter, allGather or broadcast, got " + name);
        };
    }

    /**
     * Fewest bytes that all {@code ranks} ranks together read plus write in one call of {@code kind}
     * on a per-rank full vector of {@code bytes} bytes (see the class comment).
     */
    static double trafficBytes(String kind, int ranks, double bytes) {
        return switch (kind(kind)) {
            case ALL_REDUCE -> 2.0 * ranks * bytes;
            case REDUCE_SCATTER -> ranks * bytes + ranks * (bytes / ranks);
            case ALL_GATHER -> ranks * (bytes / ranks) + ranks * bytes;
            case BROADCAST -> bytes + ranks * bytes;
        };
    }

    /** The bound on algorithm bandwidth (S/t) as a formula in BW and N, for the report. */
    static String boundFormula(String kind) {
        return kind(kind) == Kind.ALL_REDUCE ? "BW/(2N)" : "BW/(N+1)";
    }

    /** The figure's name: the kind in lower case, then ranks and size as the all-reduce figures spell them. */
    static String figureName(String kind, int ranks, int kib) {
        String size = kib % 1024 == 0 ? kib / 1024 + "mib" : kib + "kib";
        return kind.toLowerCase(java.util.Locale.ROOT) + "_r" + ranks + "_" + size;
    }

    @Setup(Level.Trial)
    public void setUp() {
        op = kind(kind);
        long bytes = (long) kib * 1024;
        if (bytes % (4L * ranks) != 0) {
            throw new IllegalArgumentException(kib + " KiB does not split into " + ranks + " blocks of whole F32 elements");
        }
        count = bytes / 4;
        long block = count / ranks;
        long sendCount = op == Kind.ALL_GATHER ? block : count;
        long recvCount = op == Kind.REDUCE_SCATTER ? block : count;
        bridge = KernelBridge.open(Config.defaults().with(Config.BACKEND, backend));
        List<dev.kernelbridge.Device> devices = bridge.devices().stream().filter(d -> d.id().startsWith(backend + ":")).toList();
        if (backend.equals("opencl")) {
            if (devices.size() < ranks) {
                throw new IllegalStateException(ranks + " OpenCL ranks need as many OpenCL devices, found " + devices.size()
                        + " (with PoCL: POCL_DEVICES=\"pthread pthread\")");
            }
            devices = devices.subList(0, ranks);
        } else {
            devices = java.util.Collections.nCopies(ranks, devices.getFirst());
        }
        comms = bridge.communicators(devices);
        float[] values = new float[(int) sendCount];
        for (int i = 0; i < values.length; i++) {
            values[i] = (i % 1000) * 0.001f;
        }
        for (int r = 0; r < ranks; r++) {
            sends.add(bridge.allocate(devices.get(r), DType.F32, sendCount).copyFrom(values));
            recvs.add(bridge.allocate(devices.get(r), DType.F32, recvCount));
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        comms.forEach(Communicator::close);
        bridge.close();
    }

    @Benchmark
    public void collective() {
        CompletableFuture<?>[] calls = new CompletableFuture<?>[ranks];
        Duration timeout = Duration.ofSeconds(60);
        long block = count / ranks;
        for (int r = 0; r < ranks; r++) {
            Communicator c = comms.get(r);
            DeviceBuffer send = sends.get(r), recv = recvs.get(r);
            calls[r] = switch (op) {
                case ALL_REDUCE -> c.allReduceAsync(send, recv, count, ReduceOp.SUM, timeout);
                case REDUCE_SCATTER -> c.reduceScatterAsync(send, recv, block, ReduceOp.SUM, timeout);
                case ALL_GATHER -> c.allGatherAsync(send, recv, block, timeout);
                case BROADCAST -> c.broadcastAsync(send, recv, count, 0, timeout);
            };
        }
        CompletableFuture.allOf(calls).join();
    }
}
