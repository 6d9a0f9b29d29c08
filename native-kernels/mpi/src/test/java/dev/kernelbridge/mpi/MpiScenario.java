package dev.kernelbridge.mpi;

import dev.kernelbridge.CollectiveException;
import dev.kernelbridge.Communicator;
import dev.kernelbridge.Config;
import dev.kernelbridge.DType;
import dev.kernelbridge.Device;
import dev.kernelbridge.DeviceBuffer;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.ReduceOp;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.BiFunction;

/**
 * One process of an MPI job started by {@link MpiTest} with mpirun: runs a scenario on this
 * process's ranks and exits 0 when every check held. Checks are exact: rank r contributes
 * x_r[i] = ((i·7 + r·13) mod 17 − 8)/8 + r, small dyadic values whose sums, minima and maxima are
 * exact in F32 and F64, and every result is compared bit for bit on every rank.
 */
public final class MpiScenario {
    private MpiScenario() { }

    public static void main(String[] args) throws Exception {
        String scenario = args[0];
        int local = args.length > 1 ? Integer.parseInt(args[1]) : 1;
        Config config = Config.fromEnvironment().with(Config.BACKEND, "cpu").with(Config.COLLECTIVE_TIMEOUT, "20s");
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
                case "silent-rank" -> {
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
                default -> throw new IllegalArgumentException("unknown scenario " + scenario);
            }
        }
    }

    static double value(long i, int rank) {
        return ((i * 7 + rank * 13L) % 17 - 8) / 8.0 + rank;
    }

    /** Every collective, op, dtype and placement against exact expectations; returns the number of checks. */
    private static int semantics(KernelBridge bridge, List<Communicator> comms) {
        int size = comms.getFirst().size();
        int checks = 0;
        for (DType dtype : DType.values()) {
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
}
