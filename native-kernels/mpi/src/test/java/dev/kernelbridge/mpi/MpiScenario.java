package dev.kernelbridge.mpi;

import dev.kernelbridge.CollectiveException;
import dev.kernelbridge.Communicator;
import dev.kernelbridge.Config;
import dev.kernelbridge.DType;
import dev.kernelbridge.Device;
import dev.kernelbridge.DeviceBuffer;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.NarrowFloat;
import dev.kernelbridge.ReduceOp;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;

/**
 * One process of an MPI job started by {@link MpiTest} with mpirun: runs a scenario on this
 * process's ranks and exits 0 when every check held. Checks are exact: rank r contributes
 * x_r[i] = ((i·7 + r·13) mod 17 − 8)/8 + r, small dyadic values whose sums, minima and maxima are
 * exact in F32 and F64, and every result is compared bit for bit on every rank.
 */
public final class MpiScenario {
    private MpiScenario() { }

    public static void main(String[] args) throws Throwable {
        String scenario = args[0];
        int local = args.length > 1 ? Integer.parseInt(args[1]) : 1;
        Config config = Config.fromEnvironment().with(Config.BACKEND, "cpu").with(Config.COLLECTIVE_TIMEOUT, "20s");
        if (scenario.equals("two-bridges")) {
            twoBridges(config);
            return;
        }
        if (scenario.equals("late-data") && "1".equals(System.getenv("OMPI_COMM_WORLD_RANK"))) {
            config = config.with(MpiTransportProvider.FAULTS, "late-data:3000");
        }
        try (KernelBridge bridge = KernelBridge.open(config)) {
            Device cpu = bridge.device("cpu:0");
            List<Communicator> comms = bridge.worldCommunicators(Collections.nCopies(local, cpu));
            int rank = comms.getFirst().rank() / local;
            switch (scenario) {
                case "semantics" -> {
                    int checks = semantics(bridge, comms);
                    if (rank == 0) {
                        System.out.println("OK " + checks + " checks on " + comms.getFirst().size() + " ranks");
                    }
                }
                case "dtypes" -> {
                    int checks = dtypes(bridge, comms.getFirst());
                    if (rank == 0) {
                        System.out.println("OK " + checks + " dtype checks on " + comms.getFirst().size() + " ranks");
                    }
                }
                case "narrow-local" -> {
                    int checks = narrowWithLocalRanks(bridge, comms);
                    if (rank == 0) {
                        System.out.println("OK " + checks + " narrow checks on " + comms.getFirst().size() + " ranks");
                    }
                }
                case "silent-rank" -> {
                    // Every rank meets once first, so the ranks that do call start their 2 s together
                    // however unevenly the JVMs came up; then rank 1 goes silent.
                    allReduce(bridge, comms, 1024, ReduceOp.SUM, Duration.ofSeconds(60));
                    if (rank == 1) {
                        Thread.sleep(120_000); // never joins: the others must give up at their deadline
                    }
                    allReduce(bridge, comms, 1024, ReduceOp.SUM, Duration.ofSeconds(2));
                }
                case "killed-rank" -> {
                    for (int i = 0; ; i++) {
                        if (rank == 1 && i == 3) {
                            Runtime.getRuntime().halt(9); // dies mid-run, without MPI_Finalize
                        }
                        allReduce(bridge, comms, 1 << 16, ReduceOp.SUM, Duration.ofSeconds(2));
                    }
                }
                case "mismatch" -> allReduce(bridge, comms, rank == 1 ? 2048 : 1024, ReduceOp.SUM, Duration.ofSeconds(10));
                case "caught" -> {
                    if (rank == 1) {
                        Thread.sleep(120_000);
                    }
                    try {
                        allReduce(bridge, comms, 1024, ReduceOp.SUM, Duration.ofSeconds(2));
                    } catch (CollectiveException e) {
                        System.out.println("caught " + e.getClass().getSimpleName() + ": " + e.getMessage());
                        System.out.flush();
                        Runtime.getRuntime().halt(4);
                    }
                }
                case "alltoall" -> {
                    int checks = allToAll(bridge, comms);
                    if (rank == 0) {
                        System.out.println("OK " + checks + " alltoall checks on " + comms.getFirst().size() + " ranks");
                    }
                }
                case "alltoall-mismatch" -> {
                    try {
                        allToAllOnce(bridge, comms, DType.F32, 4, true);
                    } catch (CollectiveException e) {
                        System.out.println("caught " + e.getClass().getSimpleName() + ": " + e.getMessage());
                        System.out.flush();
                        Thread.sleep(1000); // every process reports before the first exit makes mpirun end the job
                        Runtime.getRuntime().halt(4);
                    }
                }
                case "stuck-abort" -> { // three calls, then rank 1 never arrives and rank 0's abort (injected) hangs
                    for (int i = 0; i < 3; i++) {
                        allReduce(bridge, comms, 1024, ReduceOp.SUM, Duration.ofSeconds(10));
                    }
                    if (rank == 1) {
                        Thread.sleep(120_000);
                    }
                    allReduce(bridge, comms, 1024, ReduceOp.SUM, Duration.ofSeconds(2));
                }
                case "digests" -> digests(bridge, comms.getFirst());
                case "late-data" -> lateData(bridge, cpu, comms, rank);
                case "two-groups" -> twoGroups(bridge, cpu, comms.getFirst(), rank);
                case "steady" -> steady(bridge, comms, Integer.parseInt(args[2]), Integer.parseInt(args[3]), Duration.ofMillis(Long.parseLong(args[4])));
                default -> throw new IllegalArgumentException("unknown scenario " + scenario);
            }
        }
    }

    /** Elements rank i sends rank j at {@code scale}: uneven, about a quarter zero, same formula on every process. */
    static long a2aCount(int i, int j, long scale) {
        return scale == 0 || (i * 7 + j * 3 + scale) % 4 == 0 ? 0 : 1 + (i * 5L + j * 11L + scale * 3) % scale;
    }

    /** Byte b of element k of the block rank i sends rank j: any bit pattern, and a misplaced byte shows. */
    static byte a2aByte(int i, int j, long k, int b) {
        return (byte) (((i * 131L + j * 37L + k * 11L + b) * 2654435761L) >>> 13);
    }

    /** Every dtype, uneven and zero blocks, scattered layouts with untouched gaps, equal blocks, and exchangeCounts. */
    private static int allToAll(KernelBridge bridge, List<Communicator> comms) throws Exception {
        int checks = 0;
        for (DType dtype : DType.values()) {
            for (long scale : new long[] {0, 1, 7, 3001}) {
                allToAllOnce(bridge, comms, dtype, scale, false);
                checks++;
            }
        }
        // exchangeCounts: rank r offers {r, r^2, 2^40 + r}
        List<CompletableFuture<long[][]>> rows = new ArrayList<>();
        for (Communicator c : comms) {
            rows.add(CompletableFuture.supplyAsync(() -> c.exchangeCounts(new long[] {c.rank(), (long) c.rank() * c.rank(), (1L << 40) + c.rank()}),
                    r -> Thread.ofPlatform().start(r)));
        }
        for (CompletableFuture<long[][]> f : rows) {
            long[][] all = f.get();
            for (int r = 0; r < all.length; r++) {
                if (!java.util.Arrays.equals(all[r], new long[] {r, (long) r * r, (1L << 40) + r})) {
                    throw new AssertionError("exchangeCounts row " + r + ": " + java.util.Arrays.toString(all[r]));
                }
            }
        }
        return checks + 1;
    }

    /**
     * One all-to-all-v over this process's ranks: send blocks in reverse rank order with a gap of one
     * element, recv blocks in rank order with gaps of two, recv prefilled with 0x5A; checks every byte
     * of recv. With {@code mismatch}, global rank 1 expects one element more from rank 0.
     */
    private static void allToAllOnce(KernelBridge bridge, List<Communicator> comms, DType dtype, long scale, boolean mismatch) throws Exception {
        int size = comms.getFirst().size();
        int es = (int) dtype.byteSize();
        List<DeviceBuffer> buffers = new ArrayList<>();
        try {
            List<CompletableFuture<Void>> calls = new ArrayList<>();
            List<long[]> recvLayouts = new ArrayList<>();
            List<DeviceBuffer> recvs = new ArrayList<>();
            for (Communicator c : comms) {
                int me = c.rank();
                long[] sc = new long[size], sd = new long[size], rc = new long[size], rd = new long[size];
                long at = 0;
                for (int j = size - 1; j >= 0; j--) {
                    sc[j] = a2aCount(me, j, scale);
                    sd[j] = at;
                    at += sc[j] + 1;
                }
                byte[] send = new byte[(int) (at * es)];
                for (int j = 0; j < size; j++) {
                    for (long k = 0; k < sc[j]; k++) {
                        for (int b = 0; b < es; b++) {
                            send[(int) ((sd[j] + k) * es + b)] = a2aByte(me, j, k, b);
                        }
                    }
                }
                long rat = 2;
                for (int i = 0; i < size; i++) {
                    rc[i] = a2aCount(i, me, scale) + (mismatch && me == 1 && i == 0 ? 1 : 0);
                    rd[i] = rat;
                    rat += rc[i] + 2;
                }
                byte[] recvInit = new byte[(int) (rat * es)];
                java.util.Arrays.fill(recvInit, (byte) 0x5A);
                DeviceBuffer sb = bridge.allocate(c.device(), dtype, Math.max(1, at)).copyFrom(0, java.lang.foreign.MemorySegment.ofArray(send));
                DeviceBuffer rb = bridge.allocate(c.device(), dtype, rat).copyFrom(0, java.lang.foreign.MemorySegment.ofArray(recvInit));
                buffers.add(sb);
                buffers.add(rb);
                recvs.add(rb);
                recvLayouts.add(rd);
                recvLayouts.add(rc);
                calls.add(c.allToAllVAsync(sb, sc, sd, rb, rc, rd, c.defaultTimeout()));
            }
            for (CompletableFuture<Void> f : calls) {
                try {
                    f.join();
                } catch (java.util.concurrent.CompletionException e) {
                    throw e.getCause() instanceof RuntimeException r ? r : e;
                }
            }
            for (int m = 0; m < comms.size(); m++) {
                int me = comms.get(m).rank();
                long[] rd = recvLayouts.get(2 * m), rc = recvLayouts.get(2 * m + 1);
                byte[] got = new byte[(int) recvs.get(m).byteSize()];
                recvs.get(m).copyTo(0, java.lang.foreign.MemorySegment.ofArray(got));
                byte[] want = new byte[got.length];
                java.util.Arrays.fill(want, (byte) 0x5A);
                for (int i = 0; i < size; i++) {
                    for (long k = 0; k < rc[i]; k++) {
                        for (int b = 0; b < es; b++) {
                            want[(int) ((rd[i] + k) * es + b)] = a2aByte(i, me, k, b);
                        }
                    }
                }
                if (!java.util.Arrays.equals(got, want)) {
                    throw new AssertionError("allToAllV " + dtype.label() + " scale " + scale + ": recv of rank " + me + " differs at byte "
                            + java.util.Arrays.mismatch(got, want));
                }
            }
        } finally {
            buffers.forEach(DeviceBuffer::close);
        }
    }

    /**
     * Every collective once per dtype on inputs whose sums round (so the reduction order shows in the
     * bits); rank 0 prints one line per result, "DIGEST name crc…", that the multi-host test compares
     * with the same job on one host. Results that every rank shares are checked equal on every rank.
     */
    private static void digests(KernelBridge bridge, Communicator c) {
        int size = c.size(), count = 100_003;
        for (DType dtype : List.of(DType.F32, DType.F64)) {
            double[] in = new double[count * size];
            for (int i = 0; i < in.length; i++) {
                in[i] = (mix(i * 0x9E3779B97F4A7C15L + c.rank()) >> 11) * 0x1p-40 * Math.scalb(1.0, (int) (i % 23) - 11);
            }
            digest(bridge, c, dtype, in, count, count, "allReduce " + dtype.label(), true,
                    (send, recv) -> c.allReduce(send, recv, count, ReduceOp.SUM));
            digest(bridge, c, dtype, in, count * size, count, "reduceScatter " + dtype.label(), false,
                    (send, recv) -> c.reduceScatter(send, recv, count, ReduceOp.SUM));
            digest(bridge, c, dtype, in, count, count * size, "allGather " + dtype.label(), true,
                    (send, recv) -> c.allGather(send, recv, count));
            digest(bridge, c, dtype, in, count, count, "broadcast " + dtype.label(), true,
                    (send, recv) -> c.broadcast(send, recv, count, size - 1));
        }
        if (c.rank() == 0) {
            System.out.println("OK digests on " + size + " ranks");
        }
    }

    private static void digest(KernelBridge bridge, Communicator c, DType dtype, double[] in, int sendLength, int recvLength, String what,
                               boolean shared, java.util.function.BiConsumer<DeviceBuffer, DeviceBuffer> call) {
        try (DeviceBuffer send = bridge.allocate(c.device(), dtype, sendLength); DeviceBuffer recv = bridge.allocate(c.device(), dtype, recvLength);
             DeviceBuffer mine = bridge.allocate(c.device(), DType.I32, 1); DeviceBuffer all = bridge.allocate(c.device(), DType.I32, c.size())) {
            if (dtype == DType.F32) {
                float[] f = new float[sendLength];
                for (int i = 0; i < sendLength; i++) {
                    f[i] = (float) in[i];
                }
                send.copyFrom(f);
            } else {
                send.copyFrom(java.util.Arrays.copyOf(in, sendLength));
            }
            call.accept(send, recv);
            byte[] bits = new byte[recvLength * dtype.byteSize()];
            recv.copyTo(0, java.lang.foreign.MemorySegment.ofArray(bits));
            java.util.zip.CRC32 crc = new java.util.zip.CRC32();
            crc.update(bits);
            mine.copyFrom(new int[] {(int) crc.getValue()});
            c.allGather(mine, all, 1);
            int[] crcs = all.toIntArray();
            StringBuilder line = new StringBuilder("DIGEST " + what);
            for (int r = 0; r < crcs.length; r++) {
                if (shared && crcs[r] != crcs[0]) {
                    throw new AssertionError(what + ": rank " + r + "'s result differs from rank 0's");
                }
                if (!shared || r == 0) {
                    line.append(' ').append(Integer.toHexString(crcs[r]));
                }
            }
            if (c.rank() == 0) {
                System.out.println(line);
            }
        }
    }

    /**
     * {@code iterations} verified all-reduces with {@code timeout} each; after call {@code pauseAt}
     * every rank waits (rank 0 prints "PAUSE": the multi-host test breaks the network then, and creates
     * $KB_RESUME_FILE once the fault is in place; without that variable the ranks sleep 3 s). With
     * the throw policy a failed call prints "FAILED rank R after T ms: message", also written to
     * $KB_REPORT_DIR/rank-R (a partitioned host's output may not reach mpirun), and the process exits 4.
     */
    private static void steady(KernelBridge bridge, List<Communicator> comms, int iterations, int pauseAt, Duration timeout) throws Exception {
        Communicator c = comms.getFirst();
        int count = 1 << 16;
        float[] in = new float[count];
        for (int i = 0; i < count; i++) {
            in[i] = (float) value(i, c.rank());
        }
        try (DeviceBuffer send = bridge.allocate(c.device(), DType.F32, count); DeviceBuffer recv = bridge.allocate(c.device(), DType.F32, count)) {
            send.copyFrom(in);
            for (int it = 0; it < iterations; it++) {
                long t0 = System.nanoTime();
                try {
                    c.allReduceAsync(send, recv, count, ReduceOp.SUM, timeout).join();
                } catch (java.util.concurrent.CompletionException e) {
                    String line = String.format(java.util.Locale.ROOT, "FAILED rank %d after %d ms: %s: %s", c.rank(),
                            (System.nanoTime() - t0) / 1_000_000, e.getCause().getClass().getSimpleName(), e.getCause().getMessage());
                    System.out.println(line);
                    System.out.flush();
                    String dir = System.getenv("KB_REPORT_DIR");
                    if (dir != null) {
                        java.nio.file.Files.writeString(java.nio.file.Path.of(dir, "rank-" + c.rank()), line + "\n");
                    }
                    Runtime.getRuntime().halt(4);
                }
                float[] got = recv.toFloatArray();
                for (int i = 0; i < count; i++) {
                    if (got[i] != (float) reduce(ReduceOp.SUM, i, c.size(), DType.F32)) {
                        throw new AssertionError("steady: call " + it + " on rank " + c.rank() + ": element " + i + " is " + got[i]);
                    }
                }
                if (c.rank() == 0) {
                    System.out.println("CALL " + it + " " + (System.nanoTime() - t0) / 1_000_000 + " ms");
                    System.out.flush();
                }
                if (it == pauseAt) {
                    if (c.rank() == 0) {
                        System.out.println("PAUSE");
                        System.out.flush();
                    }
                    awaitResume();
                }
            }
        }
        if (c.rank() == 0) {
            System.out.println("OK " + iterations + " calls on " + c.size() + " ranks");
        }
    }

    /** Waits until the test has put its fault in place, so that the next call meets it whatever the machine's load. */
    private static void awaitResume() throws InterruptedException {
        String resume = System.getenv("KB_RESUME_FILE");
        if (resume == null) {
            Thread.sleep(3000);
            return;
        }
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (!java.nio.file.Files.exists(java.nio.file.Path.of(resume)) && System.nanoTime() - end < 0) {
            Thread.sleep(10);
        }
    }

    static double value(long i, int rank) {
        return ((i * 7 + rank * 13L) % 17 - 8) / 8.0 + rank;
    }

    /** Every collective, op, dtype and placement against exact expectations; returns the number of checks. */
    private static int semantics(KernelBridge bridge, List<Communicator> comms) {
        int size = comms.getFirst().size();
        int checks = 0;
        for (DType dtype : List.of(DType.F32, DType.F64)) { // the other types: see dtypes()
            for (long count : new long[] {0, 1, 7, 1000, 100_003}) {
                for (boolean inPlace : new boolean[] {false, true}) {
                    long n = count;
                    for (ReduceOp op : ReduceOp.values()) {
                        run(bridge, comms, dtype, n, n, inPlace, (c, send, recv) -> c.allReduceAsync(send, recv, n, op, c.defaultTimeout()),
                                (r, i) -> reduce(op, i, size, dtype), "allReduce " + op);
                        checks++;
                        long total = n * size;
                        run(bridge, comms, dtype, total, inPlace ? total : n, inPlace,
                                (c, send, recv) -> c.reduceScatterAsync(send, recv, n, op, c.defaultTimeout()),
                                (r, i) -> reduce(op, (inPlace ? i - r * n : i) + r * n, size, dtype), "reduceScatter " + op);
                        checks++;
                    }
                    run(bridge, comms, dtype, inPlace ? n * size : n, n * size, inPlace,
                            (c, send, recv) -> c.allGatherAsync(send, recv, n, c.defaultTimeout()),
                            (r, i) -> cast(value(i % Math.max(1, n), (int) (i / Math.max(1, n))), dtype), "allGather");
                    checks++;
                    int root = size - 1;
                    run(bridge, comms, dtype, n, n, inPlace, (c, send, recv) -> c.broadcastAsync(send, recv, n, root, c.defaultTimeout()),
                            (r, i) -> cast(value(i, root), dtype), "broadcast");
                    checks++;
                }
            }
        }
        return checks;
    }

    /**
     * Fills each local rank's send (length sendLength; all-gather in place puts the input at block
     * rank), runs the call, checks recv (length recvLength; the whole send when in place) element by
     * element against {@code expected(rank, i)}. Reduce-scatter in place is checked at block rank only.
     */
    private static void run(KernelBridge bridge, List<Communicator> comms, DType dtype, long sendLength, long recvLength, boolean inPlace,
                            CallWithRecv call, BiFunction<Integer, Long, Double> expected, String what) {
        List<DeviceBuffer> buffers = new ArrayList<>();
        try {
            List<CompletableFuture<Void>> calls = new ArrayList<>();
            List<DeviceBuffer[]> pairs = new ArrayList<>();
            for (Communicator c : comms) {
                DeviceBuffer send = bridge.allocate(c.device(), dtype, sendLength);
                DeviceBuffer recv = inPlace ? send : bridge.allocate(c.device(), dtype, recvLength);
                buffers.add(send);
                if (!inPlace) {
                    buffers.add(recv);
                }
                double[] values = new double[(int) sendLength];
                boolean gatherInPlace = what.equals("allGather") && inPlace;
                long block = gatherInPlace ? sendLength / c.size() : 0;
                for (int i = 0; i < values.length; i++) {
                    values[i] = gatherInPlace ? (i / Math.max(1, block) == c.rank() ? value(i % block, c.rank()) : Double.NaN) : value(i, c.rank());
                }
                write(send, values);
                pairs.add(new DeviceBuffer[] {send, recv});
                calls.add(call.start(c, send, recv));
            }
            CompletableFuture.allOf(calls.toArray(CompletableFuture[]::new)).join();
            for (int k = 0; k < comms.size(); k++) {
                Communicator c = comms.get(k);
                double[] got = read(pairs.get(k)[1]);
                long from = 0, to = got.length;
                if (what.startsWith("reduceScatter") && inPlace) {
                    long n = recvLength / c.size();
                    from = c.rank() * n;
                    to = from + n;
                }
                for (long i = from; i < to; i++) {
                    double want = expected.apply(c.rank(), i);
                    if (Double.doubleToLongBits(want) != Double.doubleToLongBits(got[(int) i])
                            && !(what.contains("PROD") && Math.abs(want - got[(int) i]) <= Math.abs(want) * 1e-5)) {
                        throw new AssertionError(what + " " + dtype + " count " + sendLength + (inPlace ? " in place" : "") + ": rank "
                                + c.rank() + " element " + i + " is " + got[(int) i] + ", expected " + want);
                    }
                }
            }
        } finally {
            buffers.forEach(DeviceBuffer::close);
        }
    }

    private interface CallWithRecv {
        CompletableFuture<Void> start(Communicator c, DeviceBuffer send, DeviceBuffer recv);
    }

    private static double reduce(ReduceOp op, long i, int size, DType dtype) {
        double acc = cast(value(i, 0), dtype);
        for (int r = 1; r < size; r++) {
            double x = cast(value(i, r), dtype);
            acc = switch (op) {
                case SUM, AVG -> acc + x;
                case PROD -> acc * x;
                case MIN -> Math.min(acc, x);
                case MAX -> Math.max(acc, x);
            };
        }
        return cast(op == ReduceOp.AVG ? cast(acc, dtype) / size : acc, dtype);
    }

    private static double cast(double v, DType dtype) {
        return dtype == DType.F32 ? (float) v : v;
    }

    private static void write(DeviceBuffer b, double[] values) {
        if (b.dtype() == DType.F64) {
            b.copyFrom(values);
        } else {
            float[] f = new float[values.length];
            for (int i = 0; i < f.length; i++) {
                f[i] = (float) values[i];
            }
            b.copyFrom(f);
        }
    }

    private static double[] read(DeviceBuffer b) {
        if (b.dtype() == DType.F64) {
            return b.toDoubleArray();
        }
        float[] f = b.toFloatArray();
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }

    /**
     * The types beyond F32/F64, one rank per process. BF16/F16 all-reduce and reduce-scatter carry
     * the bits of a rank-order F32 fold rounded once, computed here from the inputs, on every rank
     * (compared through an all-gather of checksums) and at two message sizes; with 3 or more ranks the
     * inputs are such that another order gives other bits somewhere, so the check can tell. I32 sums
     * and products wrap; AVG of I32 is refused; all-gather and broadcast move every type's bits.
     */
    private static int dtypes(KernelBridge bridge, Communicator c) {
        int size = c.size(), checks = 0;
        for (DType dtype : List.of(DType.BF16, DType.F16)) {
            for (ReduceOp op : ReduceOp.values()) {
                short[] small = null;
                for (int count : new int[] {1000, 1_000_003}) {
                    for (boolean inPlace : count < 10_000 ? new boolean[] {false, true} : new boolean[] {false}) { // placement at one size: it is slow
                        String what = "allReduce " + op + " " + dtype + " count " + count + (inPlace ? " in place" : "");
                        short[] got = reduceBits(bridge, c, dtype, op, count, count, 0, inPlace, false);
                        for (int i = 0; i < count; i++) {
                            short want = reference(dtype, op, i, size, false);
                            if (got[i] != want) {
                                throw new AssertionError(what + ": rank " + c.rank() + " element " + i + " has bits 0x"
                                        + Integer.toHexString(got[i] & 0xFFFF) + ", the rank-order F32 fold rounded once gives 0x"
                                        + Integer.toHexString(want & 0xFFFF));
                            }
                        }
                        sameOnEveryRank(bridge, c, got, what);
                        if (small == null) {
                            small = got;
                        } else if (!java.util.Arrays.equals(small, 0, small.length, got, 0, small.length)) {
                            throw new AssertionError(what + ": the first " + small.length + " elements differ from the smaller message's");
                        }
                        checks++;
                    }
                }
                if (op == ReduceOp.SUM && size >= 3) {
                    int differ = 0;
                    for (int i = 0; i < 1000; i++) {
                        differ += reference(dtype, op, i, size, false) != reference(dtype, op, i, size, true) ? 1 : 0;
                    }
                    if (differ == 0) {
                        throw new AssertionError(dtype + ": the inputs cannot tell rank order from reverse order");
                    }
                }
                for (int count : new int[] {1000, 333_334}) {
                    for (boolean inPlace : count < 10_000 ? new boolean[] {false, true} : new boolean[] {false}) {
                        String what = "reduceScatter " + op + " " + dtype + " count " + count + (inPlace ? " in place" : "");
                        short[] got = reduceBits(bridge, c, dtype, op, count * size, inPlace ? count * size : count, count, inPlace, true);
                        int at = inPlace ? c.rank() * count : 0;
                        for (int j = 0; j < count; j++) {
                            short want = reference(dtype, op, (long) c.rank() * count + j, size, false);
                            if (got[at + j] != want) {
                                throw new AssertionError(what + ": rank " + c.rank() + " element " + j + " has bits 0x"
                                        + Integer.toHexString(got[at + j] & 0xFFFF) + ", expected 0x" + Integer.toHexString(want & 0xFFFF));
                            }
                        }
                        checks++;
                    }
                }
            }
        }
        checks += integers(bridge, c);
        checks += moves(bridge, c);
        return checks;
    }

    /**
     * Input element i of {@code rank}: mixed signs and exponents, signed zeros, subnormals, NaN for
     * min/max, cancelling big values; F16 sums may overflow to Inf.
     */
    static short narrowInput(DType dtype, ReduceOp op, long i, int rank) {
        long h = mix(i * 0x9E3779B97F4A7C15L + rank * 0xC2B2AE3D27D4EB4FL + op.ordinal());
        float v = switch ((int) (h & 31)) {
            case 0 -> -0.0f;
            case 1 -> 0.0f;
            case 2 -> dtype == DType.BF16 ? Float.intBitsToFloat((int) (h >>> 40) & 0x3F0000) : Float.float16ToFloat((short) ((h >>> 40) & 0x3FF));
            case 3 -> op == ReduceOp.MIN || op == ReduceOp.MAX ? Float.NaN : 1.0f;
            // Cancellation: big − big + small keeps small only when added in rank order.
            case 4 -> op == ReduceOp.PROD ? 1.5f : rank == 0 ? 8192f : rank == 1 ? -8192f : 0x1p-14f;
            default -> {
                float m = 1 + ((h >>> 8) & 0xFFFFFF) / (float) (1 << 24);
                // Exponents far enough apart that F32 itself rounds a sum (3 BF16 values within 16
                // binades of each other add exactly in F32, in any order).
                int spread = dtype == DType.BF16 ? 40 : 14;
                int e = op == ReduceOp.PROD ? (int) ((h >>> 32) & 1) - 1 : (int) Math.floorMod(h >>> 32, 2 * spread) - spread;
                yield ((h >>> 63) != 0 ? -m : m) * (float) Math.scalb(1.0, e);
            }
        };
        return dtype == DType.BF16 ? NarrowFloat.toBf16(v) : NarrowFloat.toF16(v);
    }

    /** The contract: inputs widened to F32, folded in rank order (or reversed, to show order matters), avg divided, rounded once. */
    static short reference(DType dtype, ReduceOp op, long i, int size, boolean reversed) {
        float acc = 0;
        for (int k = 0; k < size; k++) {
            int r = reversed ? size - 1 - k : k;
            short bits = narrowInput(dtype, op, i, r);
            float x = dtype == DType.BF16 ? NarrowFloat.fromBf16(bits) : NarrowFloat.fromF16(bits);
            acc = k == 0 ? x : switch (op) {
                case SUM, AVG -> acc + x;
                case PROD -> acc * x;
                case MIN -> Math.min(acc, x);
                case MAX -> Math.max(acc, x);
            };
        }
        if (op == ReduceOp.AVG) {
            acc /= size;
        }
        return dtype == DType.BF16 ? NarrowFloat.toBf16(acc) : NarrowFloat.toF16(acc);
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** Runs an all-reduce (or reduce-scatter of {@code blockCount}) on this rank's inputs; returns recv's bits. */
    private static short[] reduceBits(KernelBridge bridge, Communicator c, DType dtype, ReduceOp op, int sendLength, int recvLength,
                                      int blockCount, boolean inPlace, boolean scatter) {
        short[] in = new short[sendLength];
        for (int i = 0; i < sendLength; i++) {
            in[i] = narrowInput(dtype, op, i, c.rank());
        }
        try (DeviceBuffer send = bridge.allocate(c.device(), dtype, sendLength);
             DeviceBuffer other = inPlace ? null : bridge.allocate(c.device(), dtype, recvLength)) {
            send.copyFrom(in);
            DeviceBuffer recv = inPlace ? send : other;
            if (scatter) {
                c.reduceScatter(send, recv, blockCount, op);
            } else {
                c.allReduce(send, recv, sendLength, op);
            }
            return recv.copyTo(new short[recvLength]);
        }
    }

    /**
     * BF16/F16 all-reduce and reduce-scatter with several ranks in this process (the hierarchical
     * group): every local rank calls at once, and each must hold the rank-order F32 fold rounded once.
     */
    private static int narrowWithLocalRanks(KernelBridge bridge, List<Communicator> comms) throws Exception {
        int size = comms.getFirst().size(), checks = 0, count = 4099;
        for (DType dtype : List.of(DType.BF16, DType.F16)) {
            for (ReduceOp op : List.of(ReduceOp.SUM, ReduceOp.AVG)) {
                for (boolean scatter : new boolean[] {false, true}) {
                    List<java.util.concurrent.Future<short[]>> results = new java.util.ArrayList<>();
                    try (var pool = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
                        for (Communicator c : comms) {
                            results.add(pool.submit(() -> reduceBits(bridge, c, dtype, op, scatter ? count * size : count, count, count, false, scatter)));
                        }
                    }
                    for (int m = 0; m < comms.size(); m++) {
                        short[] got = results.get(m).get();
                        int rank = comms.get(m).rank();
                        for (int i = 0; i < count; i++) {
                            long at = scatter ? (long) rank * count + i : i;
                            short want = reference(dtype, op, at, size, false);
                            if (got[i] != want) {
                                throw new AssertionError((scatter ? "reduceScatter " : "allReduce ") + op + " " + dtype + " with local ranks: rank "
                                        + rank + " element " + i + " has bits 0x" + Integer.toHexString(got[i] & 0xFFFF)
                                        + ", the rank-order fold gives 0x" + Integer.toHexString(want & 0xFFFF));
                            }
                        }
                        checks++;
                    }
                }
            }
        }
        return checks;
    }

    /** Every rank's checksum of {@code bits}, gathered as I32, must be this rank's. */
    private static void sameOnEveryRank(KernelBridge bridge, Communicator c, short[] bits, String what) {
        java.util.zip.CRC32 crc = new java.util.zip.CRC32();
        for (short b : bits) {
            crc.update(b & 0xFF);
            crc.update((b >>> 8) & 0xFF);
        }
        try (DeviceBuffer mine = bridge.allocate(c.device(), DType.I32, 1); DeviceBuffer all = bridge.allocate(c.device(), DType.I32, c.size())) {
            mine.copyFrom(new int[] {(int) crc.getValue()});
            c.allGather(mine, all, 1);
            int[] sums = all.toIntArray();
            for (int r = 0; r < sums.length; r++) {
                if (sums[r] != (int) crc.getValue()) {
                    throw new AssertionError(what + ": rank " + r + "'s result differs from rank " + c.rank() + "'s");
                }
            }
        }
    }

    /** I32 sum, prod, min, max over full-range values (sums and products wrap), and AVG refused. */
    private static int integers(KernelBridge bridge, Communicator c) {
        int size = c.size(), checks = 0, count = 10_007;
        for (ReduceOp op : List.of(ReduceOp.SUM, ReduceOp.PROD, ReduceOp.MIN, ReduceOp.MAX)) {
            int[] in = new int[count];
            for (int i = 0; i < count; i++) {
                in[i] = (int) mix(i * 31L + c.rank());
            }
            try (DeviceBuffer send = bridge.allocate(c.device(), DType.I32, count); DeviceBuffer recv = bridge.allocate(c.device(), DType.I32, count)) {
                send.copyFrom(in);
                c.allReduce(send, recv, count, op);
                int[] got = recv.toIntArray();
                for (int i = 0; i < count; i++) {
                    int want = (int) mix(i * 31L);
                    for (int r = 1; r < size; r++) {
                        int x = (int) mix(i * 31L + r);
                        want = switch (op) {
                            case SUM -> want + x;
                            case PROD -> want * x;
                            case MIN -> Math.min(want, x);
                            default -> Math.max(want, x);
                        };
                    }
                    if (got[i] != want) {
                        throw new AssertionError("allReduce " + op + " i32: rank " + c.rank() + " element " + i + " is " + got[i] + ", expected " + want);
                    }
                }
            }
            checks++;
        }
        try (DeviceBuffer b = bridge.allocate(c.device(), DType.I32, 4)) {
            c.allReduce(b, b, 4, ReduceOp.AVG);
            throw new AssertionError("allReduce AVG of i32 was accepted");
        } catch (IllegalArgumentException e) {
            if (!e.getMessage().contains("op avg") || !e.getMessage().contains("i32")) {
                throw new AssertionError("the refusal of AVG for i32 should name op and the type: " + e.getMessage());
            }
        }
        return checks + 1;
    }

    /** All-gather and broadcast carry the bytes of BF16, F16, I8 and I32 unchanged. */
    private static int moves(KernelBridge bridge, Communicator c) {
        int size = c.size(), checks = 0, count = 1001;
        for (DType dtype : List.of(DType.BF16, DType.F16, DType.I8, DType.I32)) {
            int bytes = count * dtype.byteSize();
            try (DeviceBuffer send = bridge.allocate(c.device(), dtype, count); DeviceBuffer all = bridge.allocate(c.device(), dtype, (long) count * size);
                 DeviceBuffer copy = bridge.allocate(c.device(), dtype, count)) {
                send.copyFrom(0, java.lang.foreign.MemorySegment.ofArray(rawBytes(bytes, c.rank(), dtype)));
                c.allGather(send, all, count);
                byte[] gathered = new byte[bytes * size];
                all.copyTo(0, java.lang.foreign.MemorySegment.ofArray(gathered));
                for (int r = 0; r < size; r++) {
                    if (!java.util.Arrays.equals(gathered, r * bytes, (r + 1) * bytes, rawBytes(bytes, r, dtype), 0, bytes)) {
                        throw new AssertionError("allGather " + dtype + ": block " + r + " on rank " + c.rank() + " is not rank " + r + "'s bytes");
                    }
                }
                int root = size - 1;
                c.broadcast(send, copy, count, root);
                byte[] got = new byte[bytes];
                copy.copyTo(0, java.lang.foreign.MemorySegment.ofArray(got));
                if (!java.util.Arrays.equals(got, rawBytes(bytes, root, dtype))) {
                    throw new AssertionError("broadcast " + dtype + " on rank " + c.rank() + " is not the root's bytes");
                }
            }
            checks += 2;
        }
        return checks;
    }

    private static byte[] rawBytes(int n, int rank, DType dtype) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) mix(i + 7919L * rank + dtype.ordinal());
        }
        return b;
    }

    private static void allReduce(KernelBridge bridge, List<Communicator> comms, long count, ReduceOp op, Duration timeout) {
        List<DeviceBuffer> buffers = new ArrayList<>();
        try {
            List<CompletableFuture<Void>> calls = new ArrayList<>();
            for (Communicator c : comms) {
                DeviceBuffer send = bridge.allocate(c.device(), DType.F32, count), recv = bridge.allocate(c.device(), DType.F32, count);
                buffers.add(send);
                buffers.add(recv);
                calls.add(c.allReduceAsync(send, recv, count, op, timeout));
            }
            for (CompletableFuture<Void> f : calls) {
                try {
                    f.join();
                } catch (java.util.concurrent.CompletionException e) {
                    throw (RuntimeException) e.getCause();
                }
            }
        } finally {
            buffers.forEach(DeviceBuffer::close);
        }
    }

    /**
     * Issue 28, place 2 (with kernelbridge.mpi.on.failure=throw and guarded memory): rank 1 starts its
     * first data exchange 3 s late; rank 0 gives up after 1 s, and its buffers are freed at once. MPI
     * still delivers rank 1's data to rank 0 later, when rank 0 next drives MPI's progress: into the
     * memory the transport retired, never into the freed buffers.
     */
    private static void lateData(KernelBridge bridge, Device cpu, List<Communicator> comms, int rank) throws Exception {
        if (rank == 0) {
            try {
                allReduce(bridge, comms, 1 << 16, ReduceOp.SUM, Duration.ofSeconds(1));
                throw new AssertionError("rank 0 must time out: rank 1 starts its data exchange 3 s late");
            } catch (CollectiveException e) {
                System.out.println("rank 0: " + e.getMessage());
            }
            long held = bridge.metrics().retiredTransportBytes();
            if (held <= 0) {
                throw new AssertionError("the timed-out call's memory must be retired, not freed: retiredTransportBytes = " + held);
            }
            System.out.println("rank 0 holds " + held + " bytes for MPI");
            Thread.sleep(4000); // rank 1's late data is on its way meanwhile
        } else {
            allReduce(bridge, comms, 1 << 16, ReduceOp.SUM, Duration.ofSeconds(60));
        }
        // The first group is aborted on rank 0; a second one's calls drive MPI's progress on rank 0.
        Communicator again = bridge.worldCommunicator(cpu);
        for (int i = 0; i < 3; i++) {
            verifiedAllReduce(bridge, again, 1000, i);
        }
        if (rank == 0) {
            long held = bridge.metrics().retiredTransportBytes();
            for (int tries = 0; held != 0 && tries < 100; tries++) {
                Thread.sleep(100);
                held = bridge.metrics().retiredTransportBytes();
            }
            if (held != 0) {
                throw new AssertionError("the late call completed, so its memory must be freed: retiredTransportBytes = " + held);
            }
            System.out.println("OK late data landed in retired memory, freed once MPI completed the call");
        }
    }

    /**
     * Issue 28, place 3: two groups of one bridge used at once from two threads, started in the
     * opposite order on the two ranks. Each group's calls must meet only its own.
     */
    private static void twoGroups(KernelBridge bridge, Device cpu, Communicator first, int rank) throws Exception {
        Communicator second = bridge.worldCommunicator(cpu);
        CompletableFuture<Void> a = new CompletableFuture<>(), b = new CompletableFuture<>();
        Runnable runFirst = () -> run(a, () -> { for (int i = 0; i < 20; i++) { verifiedAllReduce(bridge, first, 1000 + i, i); } });
        Runnable runSecond = () -> run(b, () -> { for (int i = 0; i < 20; i++) { verifiedAllReduce(bridge, second, 2000 + i, 100 + i); } });
        Thread t1 = Thread.ofPlatform().start(rank == 0 ? runFirst : runSecond);
        Thread.sleep(200);
        Thread t2 = Thread.ofPlatform().start(rank == 0 ? runSecond : runFirst);
        t1.join();
        t2.join();
        a.get();
        b.get();
        if (rank == 0) {
            System.out.println("OK two groups, 40 verified calls");
        }
    }

    private static void run(CompletableFuture<Void> outcome, Runnable work) {
        try {
            work.run();
            outcome.complete(null);
        } catch (Throwable t) {
            outcome.completeExceptionally(t);
        }
    }

    /**
     * Issue 28, place 3: two bridges of one process, each with a group; closing the first leaves the
     * second working, and closing the second finalizes MPI (MPI_Finalized, asked of libmpi itself).
     */
    private static void twoBridges(Config config) throws Throwable {
        KernelBridge one = KernelBridge.open(config), two = KernelBridge.open(config);
        Communicator c1 = one.worldCommunicator(one.device("cpu:0")), c2 = two.worldCommunicator(two.device("cpu:0"));
        verifiedAllReduce(one, c1, 777, 1);
        verifiedAllReduce(two, c2, 778, 2);
        one.close();
        if (mpiFinalized()) {
            throw new AssertionError("MPI must stay initialized while the second bridge is open");
        }
        verifiedAllReduce(two, c2, 779, 3);
        two.close();
        if (!mpiFinalized()) {
            throw new AssertionError("closing the last bridge must finalize MPI");
        }
        if (c1.rank() == 0) {
            System.out.println("OK two bridges, MPI finalized once by the last");
        }
    }

    private static boolean mpiFinalized() throws Throwable {
        var lib = java.lang.foreign.SymbolLookup.libraryLookup("libmpi.so.40", java.lang.foreign.Arena.global());
        var finalized = java.lang.foreign.Linker.nativeLinker().downcallHandle(lib.find("MPI_Finalized").orElseThrow(),
                java.lang.foreign.FunctionDescriptor.of(java.lang.foreign.ValueLayout.JAVA_INT, java.lang.foreign.ValueLayout.ADDRESS));
        try (var arena = java.lang.foreign.Arena.ofConfined()) {
            var flag = arena.allocate(java.lang.foreign.ValueLayout.JAVA_INT);
            int code = (int) finalized.invokeExact(flag);
            return code == 0 && flag.get(java.lang.foreign.ValueLayout.JAVA_INT, 0) != 0;
        }
    }

    /** An F64 sum of x_r[i] = 3i + salt + r over every rank, checked exactly. */
    private static void verifiedAllReduce(KernelBridge bridge, Communicator c, int count, int salt) {
        try (DeviceBuffer send = bridge.allocate(c.device(), DType.F64, count); DeviceBuffer recv = bridge.allocate(c.device(), DType.F64, count)) {
            double[] x = new double[count];
            for (int i = 0; i < count; i++) {
                x[i] = 3.0 * i + salt + c.rank();
            }
            send.copyFrom(x);
            c.allReduce(send, recv, count, ReduceOp.SUM);
            double[] got = recv.toDoubleArray();
            int n = c.size();
            for (int i = 0; i < count; i++) {
                double want = n * (3.0 * i + salt) + n * (n - 1) / 2.0;
                if (got[i] != want) {
                    throw new AssertionError("allReduce of " + count + " (salt " + salt + ") on rank " + c.rank() + ": element " + i + " is "
                            + got[i] + ", expected " + want);
                }
            }
        }
    }
}
