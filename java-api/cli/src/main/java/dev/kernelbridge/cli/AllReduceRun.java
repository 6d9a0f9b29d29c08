package dev.kernelbridge.cli;

import dev.kernelbridge.Communicator;
import dev.kernelbridge.DType;
import dev.kernelbridge.NarrowFloat;
import dev.kernelbridge.spi.Convert;
import dev.kernelbridge.Device;
import dev.kernelbridge.DeviceBuffer;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.ReduceOp;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * All-reduce among in-process ranks, one thread each: a verified call, an agreed warm-up, then timed
 * runs in which every rank's thread loops the blocking call (see {@link #timedRuns}), as the JMH
 * benchmark and nccl-tests do, so the figure printed is the one they measure.
 * Rank r contributes x_r[i] = ((i·7 + r·13) mod 17 − 8)/8 + r: small dyadic values, so sum, min and
 * max are exact and the check can demand bit equality with a double reference (prod and avg are
 * checked within a few ulps). Every rank's result must be bitwise equal to rank 0's.
 * Bandwidths follow nccl-tests: algorithm = bytes/time, bus = algorithm·2(R−1)/R.
 */
final class AllReduceRun {
    record Result(int ranks, long count, DType dtype, ReduceOp op, String device, double seconds,
                  double algBandwidthGBs, double busBandwidthGBs, Boolean verified, WarmUp.Spread spread, int runs) { }

    private AllReduceRun() { }

    static Result run(KernelBridge bridge, List<Device> devices, long count, DType dtype, ReduceOp op,
                      int repeat, boolean verify, Progress progress) {
        List<Communicator> comms = bridge.communicators(devices);
        try {
            return runOn(bridge, comms, count, dtype, op, repeat, verify, progress);
        } finally {
            comms.forEach(Communicator::close);
        }
    }

    /**
     * Runs on {@code comms}, this process's ranks of a group that may span processes (every
     * process runs the same code); the result describes the whole group.
     */
    static Result runOn(KernelBridge bridge, List<Communicator> comms, long count, DType dtype, ReduceOp op,
                      int repeat, boolean verify, Progress progress) {
        int ranks = comms.getFirst().size();
        List<Device> devices = comms.stream().map(Communicator::device).toList();
        List<DeviceBuffer> sends = new ArrayList<>(), recvs = new ArrayList<>();
        try {
            for (Communicator c : comms) {
                DeviceBuffer send = bridge.allocate(c.device(), dtype, count);
                fill(send, c.rank());
                sends.add(send);
                recvs.add(bridge.allocate(c.device(), dtype, count));
            }
            allReduce(comms, sends, recvs, count, op);
            Boolean verified = verify ? check(recvs, count, dtype, op, ranks) && sameEverywhere(bridge, comms, recvs) : null;
            int calls = callsPerRun(count * dtype.byteSize());
            // Warm-up rounds are timed runs themselves, so the JIT has compiled the very loop that is measured.
            agreedWarmUp(bridge, comms, () -> timedRuns(comms, sends, recvs, count, op, 1, calls, null));
            double[] times = maxOverRanks(bridge, comms, timedRuns(comms, sends, recvs, count, op, repeat, calls, progress));
            WarmUp.Spread spread = WarmUp.Spread.of(times);
            double seconds = spread.median();
            double alg = seconds > 0 ? count * (double) dtype.byteSize() / seconds * 1e-9 : 0;
            double bus = alg * 2.0 * (ranks - 1) / ranks;
            String device = devices.stream().map(Device::id).distinct().reduce((x, y) -> x + "," + y).orElse("")
                    + (ranks > comms.size() ? " (per process)" : "");
            return new Result(ranks, count, dtype, op, device, seconds, alg, bus, verified, spread, repeat);
        } finally {
            sends.forEach(DeviceBuffer::close);
            recvs.forEach(DeviceBuffer::close);
        }
    }

    /**
     * Warms up until the timing settles, as {@link WarmUp} does, but a collective loop must issue the
     * same number of calls on every rank, and each process judges its own timings on its own clock: so
     * after every round the ranks vote (an all-reduce MIN of "go on") and all stop at the first round
     * any rank wants to stop at.
     */
    static void agreedWarmUp(KernelBridge bridge, List<Communicator> comms, Runnable round) {
        List<DeviceBuffer> votes = new ArrayList<>();
        try {
            for (Communicator c : comms) {
                votes.add(bridge.allocate(c.device(), DType.F64, 1));
            }
            WarmUp warmUp = new WarmUp();
            double[] vote = new double[1];
            while (true) {
                long t0 = System.nanoTime();
                round.run();
                vote[0] = warmUp.goOn(System.nanoTime() - t0) ? 1 : 0;
                for (DeviceBuffer v : votes) {
                    v.copyFrom(vote);
                }
                allReduce(comms, votes, votes, 1, ReduceOp.MIN);
                if (votes.getFirst().copyTo(vote)[0] == 0) {
                    return;
                }
            }
        } finally {
            votes.forEach(DeviceBuffer::close);
        }
    }

    /**
     * Blocking calls per timed run: enough that a run of small messages lasts milliseconds, so two
     * clock reads are noise beside it; one for large ones. Derived from the message size alone, so
     * every rank of every process issues the same number of calls without agreeing on it first.
     */
    static int callsPerRun(long bytes) {
        return (int) Math.max(1, Math.min(1000, (4L << 20) / Math.max(1, bytes)));
    }

    /**
     * The timed runs as nccl-tests' all_reduce_perf does them: every local rank's own thread issues
     * {@code calls} blocking all-reduces back to back, so the calls meet where the ranks are, with no
     * hand-off; a barrier (not timed) starts each run. Returns, per run, the slowest local rank's time
     * per call. {@code progress} may be null (warm-up rounds).
     */
    private static double[] timedRuns(List<Communicator> comms, List<DeviceBuffer> sends, List<DeviceBuffer> recvs, long count,
                                      ReduceOp op, int runs, int calls, Progress progress) {
        int local = comms.size();
        double[][] perRank = new double[local][runs];
        // A run starts when every local rank has arrived; a rank that fails ends the phaser for all, so no
        // rank waits for a run that will not come (a failed call may leave the others past their last call).
        java.util.concurrent.Phaser start = new java.util.concurrent.Phaser(local) {
            @Override
            protected boolean onAdvance(int phase, int parties) {
                if (progress != null && phase < runs) {
                    progress.step(phase + 1, runs, count + " elements, " + calls + " calls per run");
                }
                return false;
            }
        };
        List<Thread> threads = new ArrayList<>();
        java.util.concurrent.ConcurrentLinkedQueue<Throwable> failures = new java.util.concurrent.ConcurrentLinkedQueue<>();
        for (int r = 0; r < local; r++) {
            int rank = r;
            threads.add(Thread.ofPlatform().daemon().name("allreduce-rank-" + comms.get(r).rank()).start(() -> {
                try {
                    Communicator c = comms.get(rank);
                    for (int run = 0; run < runs && start.arriveAndAwaitAdvance() >= 0; run++) {
                        long t0 = System.nanoTime();
                        for (int i = 0; i < calls; i++) {
                            c.allReduce(sends.get(rank), recvs.get(rank), count, op);
                        }
                        perRank[rank][run] = (System.nanoTime() - t0) * 1e-9 / calls;
                    }
                } catch (Throwable t) {
                    failures.add(t);
                    start.forceTermination();
                }
            }));
        }
        for (Thread t : threads) {
            try {
                t.join();
            } catch (InterruptedException e) {
                start.forceTermination();
                threads.forEach(Thread::interrupt);
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while timing", e);
            }
        }
        if (!failures.isEmpty()) {
            Throwable first = failures.peek();
            throw first instanceof RuntimeException re ? re : new IllegalStateException("a rank failed while timing", first);
        }
        double[] slowest = new double[runs];
        for (int run = 0; run < runs; run++) {
            for (int r = 0; r < local; r++) {
                slowest[run] = Math.max(slowest[run], perRank[r][run]);
            }
        }
        return slowest;
    }

    /** Element-wise, the largest of {@code local} over every rank of the group (all processes): one agreed all-reduce MAX. */
    static double[] maxOverRanks(KernelBridge bridge, List<Communicator> comms, double[] local) {
        List<DeviceBuffer> bufs = new ArrayList<>();
        try {
            for (Communicator c : comms) {
                bufs.add(bridge.allocate(c.device(), DType.F64, local.length).copyFrom(local));
            }
            allReduce(comms, bufs, bufs, local.length, ReduceOp.MAX);
            return bufs.getFirst().toDoubleArray();
        } finally {
            bufs.forEach(DeviceBuffer::close);
        }
    }

    private static void allReduce(List<Communicator> comms, List<DeviceBuffer> sends, List<DeviceBuffer> recvs, long count, ReduceOp op) {
        List<CompletableFuture<Void>> calls = new ArrayList<>();
        for (int r = 0; r < comms.size(); r++) {
            Communicator c = comms.get(r);
            calls.add(c.allReduceAsync(sends.get(r), recvs.get(r), count, op, c.defaultTimeout()));
        }
        CompletableFuture.allOf(calls.toArray(CompletableFuture[]::new)).join();
    }

    static double value(long i, int rank) {
        return ((i * 7 + rank * 13L) % 17 - 8) / 8.0 + rank;
    }

    /** Rank {@code rank}'s element {@code i} in {@code dtype}: exact in every float type; scaled by 8 for I32. */
    static double value(long i, int rank, DType dtype) {
        return dtype == DType.I32 ? 8 * value(i, rank) : value(i, rank);
    }

    private static void fill(DeviceBuffer buf, int rank) {
        try (Arena arena = Arena.ofConfined()) {
            long n = buf.length();
            MemorySegment host = arena.allocate(Math.max(1, buf.byteSize())).asSlice(0, buf.byteSize());
            for (long i = 0; i < n; i++) {
                Convert.set(buf.dtype(), host, i, value(i, rank, buf.dtype()));
            }
            buf.copyFrom(0, host);
        }
    }

    /**
     * Bitwise agreement across every rank of the group, also in other processes: each rank's result
     * is hashed and the hashes are all-gathered through the same communicators.
     */
    private static boolean sameEverywhere(KernelBridge bridge, List<Communicator> comms, List<DeviceBuffer> recvs) {
        int size = comms.getFirst().size();
        List<DeviceBuffer> hashes = new ArrayList<>(), gathered = new ArrayList<>();
        try {
            List<CompletableFuture<Void>> calls = new ArrayList<>();
            for (int i = 0; i < comms.size(); i++) {
                Communicator c = comms.get(i);
                DeviceBuffer h = bridge.allocate(c.device(), DType.F64, 1).copyFrom(new double[] {Double.longBitsToDouble(hash(recvs.get(i)))});
                DeviceBuffer all = bridge.allocate(c.device(), DType.F64, size);
                hashes.add(h);
                gathered.add(all);
                calls.add(c.allGatherAsync(h, all, 1, c.defaultTimeout()));
            }
            CompletableFuture.allOf(calls.toArray(CompletableFuture[]::new)).join();
            double[] seen = gathered.getFirst().toDoubleArray();
            for (double d : seen) {
                if (Double.doubleToRawLongBits(d) != Double.doubleToRawLongBits(seen[0])) {
                    return false;
                }
            }
            return true;
        } finally {
            hashes.forEach(DeviceBuffer::close);
            gathered.forEach(DeviceBuffer::close);
        }
    }

    private static long hash(DeviceBuffer b) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(Math.max(1, b.byteSize())).asSlice(0, b.byteSize());
            b.copyTo(0, host);
            long h = 1125899906842597L;
            for (long i = 0; i + 8 <= host.byteSize(); i += 8) {
                h = 31 * h + host.get(ValueLayout.JAVA_LONG_UNALIGNED, i);
            }
            for (long i = host.byteSize() & ~7L; i < host.byteSize(); i++) {
                h = 31 * h + host.get(ValueLayout.JAVA_BYTE, i);
            }
            return h;
        }
    }

    private static boolean check(List<DeviceBuffer> recvs, long count, DType dtype, ReduceOp op, int ranks) {
        try (Arena arena = Arena.ofConfined()) {
            long bytes = count * dtype.byteSize();
            MemorySegment first = arena.allocate(Math.max(1, bytes)).asSlice(0, bytes);
            recvs.getFirst().copyTo(0, first);
            MemorySegment other = arena.allocate(Math.max(1, bytes)).asSlice(0, bytes);
            for (int r = 1; r < recvs.size(); r++) {
                recvs.get(r).copyTo(0, other);
                if (first.mismatch(other) != -1) {
                    return false;
                }
            }
            // Narrow floats and I32 are checked bitwise against the rank-order fold they promise.
            boolean exact = dtype.isNarrowFloat() || dtype == DType.I32;
            double ulps = !exact && (op == ReduceOp.PROD || op == ReduceOp.AVG) ? 2.0 * ranks : 0;
            for (long i = 0; i < count; i++) {
                double expect = exact ? rankOrder(i, op, ranks, dtype) : reference(i, op, ranks, dtype);
                double got = Convert.get(dtype, first, i);
                double tolerance = ulps * Math.abs(expect) * dtype.unitRoundoff() * 2;
                if (!(Math.abs(got - expect) <= tolerance)) {
                    return false;
                }
            }
            return true;
        }
    }

    /** The fold in rank order in the compute type (F32 for BF16/F16, wrapping i32), rounded once. */
    private static double rankOrder(long i, ReduceOp op, int ranks, DType dtype) {
        if (dtype == DType.I32) {
            int acc = (int) value(i, 0, dtype);
            for (int r = 1; r < ranks; r++) {
                int x = (int) value(i, r, dtype);
                acc = switch (op) {
                    case SUM, AVG -> acc + x;
                    case PROD -> acc * x;
                    case MIN -> Math.min(acc, x);
                    case MAX -> Math.max(acc, x);
                };
            }
            return acc;
        }
        float acc = NarrowFloat.round(dtype, (float) value(i, 0));
        for (int r = 1; r < ranks; r++) {
            float x = NarrowFloat.round(dtype, (float) value(i, r));
            acc = switch (op) {
                case SUM, AVG -> acc + x;
                case PROD -> acc * x;
                case MIN -> Math.min(acc, x);
                case MAX -> Math.max(acc, x);
            };
        }
        return NarrowFloat.round(dtype, op == ReduceOp.AVG ? acc / ranks : acc);
    }

    private static double reference(long i, ReduceOp op, int ranks, DType dtype) {
        double[] xs = new double[ranks];
        for (int r = 0; r < ranks; r++) {
            xs[r] = dtype == DType.F32 ? (float) value(i, r) : value(i, r);
        }
        return switch (op) {
            case SUM -> Arrays.stream(xs).sum();
            case AVG -> Arrays.stream(xs).sum() / ranks;
            case PROD -> Arrays.stream(xs).reduce(1, (x, y) -> x * y);
            case MIN -> Arrays.stream(xs).min().orElseThrow();
            case MAX -> Arrays.stream(xs).max().orElseThrow();
        };
    }
}
