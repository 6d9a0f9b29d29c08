package dev.kernelbridge.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kernelbridge.CollectiveMismatchException;
import dev.kernelbridge.CollectiveTimeoutException;
import dev.kernelbridge.Communicator;
import dev.kernelbridge.DType;
import dev.kernelbridge.Device;
import dev.kernelbridge.DeviceBuffer;
import dev.kernelbridge.ReduceOp;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Tag;

/**
 * Collectives through the public API (RELIABILITY.md R16, R35, R37): results against a reference
 * in rank order, bitwise agreement across ranks and counts, in place and out of place, deadlines
 * that name missing ranks, mismatches detected on every rank. Ranks live on
 * {@link KitContext#rankDevices()}. Mixed into {@link ConformanceKit}.
 */
public interface CollectiveConformance extends KitContext {
    /** The deadline of the calls that wait for a rank that never comes: long enough that a busy machine does not make a present rank late. */
    Duration MISSING_RANK_DEADLINE = Duration.ofSeconds(3);

    default List<Device> ranks(int n) {
        List<String> ids = rankDevices();
        List<Device> out = new ArrayList<>();
        for (int r = 0; r < n; r++) {
            out.add(bridge().device(ids.get(r % ids.size())));
        }
        return out;
    }

    /** Runs {@code call} on every rank at once and waits (bounded) for all. */
    static void onAllRanks(List<Communicator> comms, Function<Communicator, CompletableFuture<Void>> call) {
        List<CompletableFuture<Void>> fs = comms.stream().map(call).toList();
        try {
            CompletableFuture.allOf(fs.toArray(CompletableFuture[]::new)).get(2, TimeUnit.MINUTES);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : new CompletionException(e.getCause());
        } catch (Exception e) {
            throw new AssertionError("collective did not complete", e);
        }
    }

    private static double[] data(SplittableRandom rnd, long count, int rank, ReduceOp op) {
        double[] x = new double[(int) count];
        for (int i = 0; i < x.length; i++) {
            x[i] = op == ReduceOp.PROD ? rnd.nextDouble(0.5, 1.5) : rnd.nextDouble(-1, 1) * (rank + 1);
        }
        return x;
    }

    private static double reduceInRankOrder(DType dtype, ReduceOp op, double[][] xs, int i) {
        if (dtype == DType.F32) {
            float acc = (float) xs[0][i];
            for (int r = 1; r < xs.length; r++) {
                float v = (float) xs[r][i];
                acc = switch (op) {
                    case SUM, AVG -> acc + v;
                    case PROD -> acc * v;
                    case MIN -> Math.min(acc, v);
                    case MAX -> Math.max(acc, v);
                };
            }
            return op == ReduceOp.AVG ? acc / (float) xs.length : acc;
        }
        double acc = xs[0][i];
        for (int r = 1; r < xs.length; r++) {
            double v = xs[r][i];
            acc = switch (op) {
                case SUM, AVG -> acc + v;
                case PROD -> acc * v;
                case MIN -> Math.min(acc, v);
                case MAX -> Math.max(acc, v);
            };
        }
        return op == ReduceOp.AVG ? acc / xs.length : acc;
    }

    @Tag("R16")
    @Tag("collectives")
    @Test
    default void allReduceEqualsRankOrderReferenceBitwiseOnEveryRank() {
        for (int size : new int[] {1, 2, 3, 4}) {
            List<Device> devices = ranks(size);
            List<Communicator> comms = bridge().communicators(devices);
            try {
                for (DType dtype : List.of(DType.F32, DType.F64)) {
                    if (!devices.stream().allMatch(d -> d.supports(dtype))) {
                        continue;
                    }
                    for (ReduceOp op : ReduceOp.values()) {
                        for (long count : new long[] {0, 1, 2, 3, 7, 1009, 4095, 4096, 4097, 100_003}) {
                            for (boolean inPlace : new boolean[] {false, true}) {
                                checkAllReduce(comms, devices, dtype, op, count, inPlace);
                            }
                        }
                    }
                }
            } finally {
                comms.forEach(Communicator::close);
            }
        }
    }

    private void checkAllReduce(List<Communicator> comms, List<Device> devices, DType dtype, ReduceOp op, long count, boolean inPlace) {
        int size = comms.size();
        SplittableRandom rnd = new SplittableRandom(count * 31 + size);
        double[][] xs = new double[size][];
        List<Operand> sends = new ArrayList<>(), recvs = new ArrayList<>();
        try {
            for (int r = 0; r < size; r++) {
                xs[r] = data(rnd, count, r, op);
                Operand s = Operand.of(bridge(), devices.get(r), dtype, xs[r]);
                sends.add(s);
                recvs.add(inPlace ? s : Operand.of(bridge(), devices.get(r), dtype, new double[(int) count]));
            }
            onAllRanks(comms, c -> c.allReduceAsync(sends.get(c.rank()).buffer, recvs.get(c.rank()).buffer, count, op, Duration.ofSeconds(60)));
            long[] first = recvs.getFirst().downloadBits();
            String what = dtype + " " + op + " count " + count + " ranks " + size + (inPlace ? " in place" : "");
            for (int r = 1; r < size; r++) {
                assertTrue(Arrays.equals(first, recvs.get(r).downloadBits()), what + ": rank " + r + " differs from rank 0");
            }
            double[] got = Operand.values(dtype, first);
            for (int i = 0; i < count; i++) {
                double expect = reduceInRankOrder(dtype, op, xs, i);
                assertEquals(expect, got[i], 0.0, what + ": element " + i);
            }
            if (!inPlace) {
                for (int r = 0; r < size; r++) {
                    assertEquals(-1, sends.get(r).firstChange(), what + ": send of rank " + r + " changed");
                }
            }
        } finally {
            sends.forEach(Operand::close);
            if (!inPlace) {
                recvs.forEach(Operand::close);
            }
        }
    }

    @Tag("R16")
    @Tag("collectives")
    @Test
    default void resultBitsDoNotDependOnCount() {
        List<Device> devices = ranks(3);
        List<Communicator> comms = bridge().communicators(devices);
        try {
            SplittableRandom rnd = new SplittableRandom(99);
            int big = 50_000;
            double[][] xs = new double[3][];
            List<Operand> sends = new ArrayList<>(), bigOut = new ArrayList<>(), smallOut = new ArrayList<>();
            for (int r = 0; r < 3; r++) {
                xs[r] = data(rnd, big, r, ReduceOp.SUM);
                sends.add(Operand.of(bridge(), devices.get(r), DType.F32, xs[r]));
                bigOut.add(Operand.of(bridge(), devices.get(r), DType.F32, new double[big]));
                smallOut.add(Operand.of(bridge(), devices.get(r), DType.F32, new double[big]));
            }
            onAllRanks(comms, c -> c.allReduceAsync(sends.get(c.rank()).buffer, bigOut.get(c.rank()).buffer, big, ReduceOp.SUM, Duration.ofSeconds(60)));
            onAllRanks(comms, c -> c.allReduceAsync(sends.get(c.rank()).buffer, smallOut.get(c.rank()).buffer, 777, ReduceOp.SUM, Duration.ofSeconds(60)));
            assertTrue(Arrays.equals(Arrays.copyOf(bigOut.getFirst().downloadBits(), 777), Arrays.copyOf(smallOut.getFirst().downloadBits(), 777)),
                    "the first 777 results must not depend on the count");
            sends.forEach(Operand::close);
            bigOut.forEach(Operand::close);
            smallOut.forEach(Operand::close);
        } finally {
            comms.forEach(Communicator::close);
        }
    }

    @Tag("collectives")
    @Test
    default void reduceScatterAllGatherAndBroadcast() {
        int size = 3;
        long block = 1001;
        List<Device> devices = ranks(size);
        List<Communicator> comms = bridge().communicators(devices);
        SplittableRandom rnd = new SplittableRandom(5);
        try {
            for (DType dtype : List.of(DType.F32, DType.F64)) {
                if (!devices.stream().allMatch(d -> d.supports(dtype))) {
                    continue;
                }
                double[][] xs = new double[size][];
                List<Operand> sends = new ArrayList<>(), recvs = new ArrayList<>(), inPlace = new ArrayList<>();
                for (int r = 0; r < size; r++) {
                    xs[r] = data(rnd, block * size, r, ReduceOp.SUM);
                    sends.add(Operand.of(bridge(), devices.get(r), dtype, xs[r]));
                    recvs.add(Operand.of(bridge(), devices.get(r), dtype, new double[(int) (block * size)]));
                    inPlace.add(Operand.of(bridge(), devices.get(r), dtype, xs[r]));
                }
                // reduce-scatter, out of place and in place (result at block rank of the send buffer)
                onAllRanks(comms, c -> c.reduceScatterAsync(sends.get(c.rank()).buffer, recvs.get(c.rank()).buffer, block, ReduceOp.MAX, Duration.ofSeconds(60)));
                onAllRanks(comms, c -> c.reduceScatterAsync(inPlace.get(c.rank()).buffer, inPlace.get(c.rank()).buffer, block, ReduceOp.MAX, Duration.ofSeconds(60)));
                for (int r = 0; r < size; r++) {
                    double[] got = Operand.values(dtype, recvs.get(r).downloadBits());
                    double[] gotInPlace = Operand.values(dtype, inPlace.get(r).downloadBits());
                    for (int i = 0; i < block; i++) {
                        double expect = reduceInRankOrder(dtype, ReduceOp.MAX, xs, (int) (r * block + i));
                        assertEquals(expect, got[i], 0.0, "reduceScatter rank " + r + " element " + i);
                        assertEquals(expect, gotInPlace[(int) (r * block + i)], 0.0, "in-place reduceScatter rank " + r + " element " + i);
                    }
                }
                // all-gather: rank r contributes the first block of its send
                onAllRanks(comms, c -> c.allGatherAsync(sends.get(c.rank()).buffer, recvs.get(c.rank()).buffer, block, Duration.ofSeconds(60)));
                for (int r = 0; r < size; r++) {
                    double[] got = Operand.values(dtype, recvs.get(r).downloadBits());
                    for (int q = 0; q < size; q++) {
                        for (int i = 0; i < block; i++) {
                            assertEquals(Operand.values(dtype, Operand.toBits(dtype, new double[] {xs[q][i]}))[0], got[(int) (q * block + i)], 0.0,
                                    "allGather rank " + r + " block " + q);
                        }
                    }
                }
                // broadcast from rank 2
                onAllRanks(comms, c -> c.broadcastAsync(sends.get(c.rank()).buffer, recvs.get(c.rank()).buffer, block * size, 2, Duration.ofSeconds(60)));
                long[] rootBits = sends.get(2).bits;
                for (int r = 0; r < size; r++) {
                    assertTrue(Arrays.equals(rootBits, recvs.get(r).downloadBits()), "broadcast rank " + r);
                }
                sends.forEach(Operand::close);
                recvs.forEach(Operand::close);
                inPlace.forEach(Operand::close);
            }
        } finally {
            comms.forEach(Communicator::close);
        }
    }

    @Tag("R33")
    @Tag("collectives")
    @Test
    default void missingRankTimesOutNamingItAndAbortsTheGroup() {
        List<Device> devices = ranks(3);
        List<Communicator> comms = bridge().communicators(devices);
        List<DeviceBuffer> bufs = new ArrayList<>();
        try {
            for (Device d : devices) {
                bufs.add(bridge().allocate(d, DType.F32, 100));
            }
            // Ranks 0 and 1 call; rank 2 never does. The deadline leaves room for rank 1 to arrive after
            // rank 0 on a busy machine (else it would be named missing too); it is not a speed claim.
            CompletableFuture<Void> r0 = comms.get(0).allReduceAsync(bufs.get(0), bufs.get(0), 100, ReduceOp.SUM, MISSING_RANK_DEADLINE);
            CompletableFuture<Void> r1 = comms.get(1).allReduceAsync(bufs.get(1), bufs.get(1), 100, ReduceOp.SUM, MISSING_RANK_DEADLINE);
            for (CompletableFuture<Void> f : List.of(r0, r1)) {
                // 30 s is the "never hangs" bound, not a speed claim.
                ExecutionException e = assertThrows(ExecutionException.class, () -> assertTimeoutPreemptively(Duration.ofSeconds(30), () -> f.get()));
                CollectiveTimeoutException t = assertInstanceOf(CollectiveTimeoutException.class, e.getCause());
                assertEquals(List.of(2), t.missingRanks());
                assertTrue(t.getMessage().contains("ranks [2]"), t.getMessage());
            }
            // The group is aborted: the late rank fails at once instead of waiting for its deadline.
            assertTimeoutPreemptively(Duration.ofSeconds(30), () -> {
                CompletionException late = assertThrows(CompletionException.class,
                        () -> comms.get(2).allReduceAsync(bufs.get(2), bufs.get(2), 100, ReduceOp.SUM, Duration.ofMinutes(10)).join());
                assertInstanceOf(CollectiveTimeoutException.class, late.getCause());
            });
        } finally {
            bufs.forEach(DeviceBuffer::close);
            comms.forEach(Communicator::close);
        }
    }

    @Tag("R35")
    @Tag("collectives")
    @Test
    default void mismatchedCallsFailOnEveryRank() {
        List<Device> devices = ranks(2);
        List<Communicator> comms = bridge().communicators(devices);
        List<DeviceBuffer> bufs = new ArrayList<>();
        try {
            for (Device d : devices) {
                bufs.add(bridge().allocate(d, DType.F32, 200));
            }
            CompletableFuture<Void> r0 = comms.get(0).allReduceAsync(bufs.get(0), bufs.get(0), 200, ReduceOp.SUM, Duration.ofSeconds(30));
            CompletableFuture<Void> r1 = comms.get(1).allReduceAsync(bufs.get(1), bufs.get(1), 100, ReduceOp.SUM, Duration.ofSeconds(30));
            for (CompletableFuture<Void> f : List.of(r0, r1)) {
                ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(30, TimeUnit.SECONDS));
                CollectiveMismatchException m = assertInstanceOf(CollectiveMismatchException.class, e.getCause());
                assertTrue(m.getMessage().contains("count 200") && m.getMessage().contains("count 100"), m.getMessage());
                assertEquals(0, m.sequence());
            }
        } finally {
            bufs.forEach(DeviceBuffer::close);
            comms.forEach(Communicator::close);
        }
    }

    @Tag("collectives")
    @Test
    default void rejectsBadArgumentsBeforeTheGroupSeesThem() {
        List<Device> devices = ranks(2);
        List<Communicator> comms = bridge().communicators(devices);
        Communicator c = comms.getFirst();
        try (DeviceBuffer f = bridge().allocate(devices.getFirst(), DType.F32, 10);
             DeviceBuffer small = bridge().allocate(devices.getFirst(), DType.F32, 5)) {
            assertMessage(() -> c.allReduce(null, f, 10, ReduceOp.SUM), "send must not be null");
            assertMessage(() -> c.allReduce(f, null, 10, ReduceOp.SUM), "recv must not be null");
            assertMessage(() -> c.allReduce(f, f, -1, ReduceOp.SUM), "count must be >= 0");
            assertMessage(() -> c.allReduce(f, small, 10, ReduceOp.SUM), "recv is too short");
            assertMessage(() -> c.allReduce(f, f, 10, null), "op must not be null");
            assertMessage(() -> c.reduceScatter(f, f, 6, ReduceOp.SUM), "send is too short");
            assertMessage(() -> c.allGather(f, small, 3), "recv is too short");
            assertMessage(() -> c.broadcast(f, f, 10, 2), "root must be in [0, 2)");
            assertMessage(() -> c.allReduceAsync(f, f, 10, ReduceOp.SUM, Duration.ZERO), "timeout must be a positive duration");
            assertMessage(() -> c.reduceScatter(f, f, Long.MAX_VALUE / 2 + 1, ReduceOp.SUM), "overflows");
            // Nothing reached the group: a valid pair of calls still works.
            onAllRanks(comms, x -> x.allReduceAsync(f, f, 0, ReduceOp.SUM, Duration.ofSeconds(30)));
        } finally {
            comms.forEach(Communicator::close);
        }
        assertThrows(IllegalStateException.class, () -> c.allReduce(null, null, 0, ReduceOp.SUM));
    }

    private static void assertMessage(Runnable call, String fragment) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call::run);
        assertTrue(e.getMessage().contains(fragment), "expected '" + fragment + "' in '" + e.getMessage() + "'");
    }

    /** Many rounds with fixed inputs: every round's bits equal the first round's (R16 across runs). */
    @Tag("R16")
    @Tag("collectives")
    @Test
    default void repeatedAllReducesAreBitwiseIdentical() {
        List<Device> devices = ranks(4);
        List<Communicator> comms = bridge().communicators(devices);
        SplittableRandom rnd = new SplittableRandom(21);
        List<Operand> sends = new ArrayList<>(), recvs = new ArrayList<>();
        try {
            for (int r = 0; r < 4; r++) {
                sends.add(Operand.of(bridge(), devices.get(r), DType.F32, data(rnd, 30_011, r, ReduceOp.SUM)));
                recvs.add(Operand.of(bridge(), devices.get(r), DType.F32, new double[30_011]));
            }
            long[] first = null;
            for (int round = 0; round < 30; round++) {
                onAllRanks(comms, c -> c.allReduceAsync(sends.get(c.rank()).buffer, recvs.get(c.rank()).buffer, 30_011, ReduceOp.SUM, Duration.ofSeconds(60)));
                long[] now = recvs.get(round % 4).downloadBits();
                if (first == null) {
                    first = now;
                }
                assertTrue(Arrays.equals(first, now), "round " + round);
            }
        } finally {
            sends.forEach(Operand::close);
            recvs.forEach(Operand::close);
            comms.forEach(Communicator::close);
        }
    }

    // ---- all-to-all (issue 15): moves bytes, so every type and every bit pattern must arrive as sent ----

    /** Random raw bytes: every bit pattern, NaN payloads and signalling NaNs included. */
    private static byte[] randomBytes(SplittableRandom rnd, long n) {
        byte[] b = new byte[(int) n];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) rnd.nextInt();
        }
        return b;
    }

    private static DeviceBuffer upload(dev.kernelbridge.KernelBridge bridge, Device device, DType dtype, byte[] bytes) {
        DeviceBuffer b = bridge.allocate(device, dtype, bytes.length / dtype.byteSize());
        b.copyFrom(0, java.lang.foreign.MemorySegment.ofArray(bytes));
        return b;
    }

    private static byte[] download(DeviceBuffer b) {
        byte[] out = new byte[(int) b.byteSize()];
        b.copyTo(0, java.lang.foreign.MemorySegment.ofArray(out));
        return out;
    }

    /**
     * Displacements for blocks of {@code counts} laid out in a random order with random gaps, so that
     * the test sees blocks that are neither in rank order nor contiguous; the last slot holds the end.
     */
    private static long[] scatteredLayout(SplittableRandom rnd, long[] counts) {
        int n = counts.length;
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            order.add(i);
        }
        java.util.Collections.shuffle(order, new java.util.Random(rnd.nextLong()));
        long[] displs = new long[n + 1];
        long at = rnd.nextInt(3);
        for (int i : order) {
            displs[i] = at;
            at += counts[i] + rnd.nextInt(3);
        }
        displs[n] = at + 1;
        return displs;
    }

    @Tag("collectives")
    @Test
    default void allToAllVMovesEveryTypeBitwiseWithUnevenAndZeroCounts() {
        for (int size : new int[] {1, 2, 3, 4}) {
            List<Device> devices = ranks(size);
            List<Communicator> comms = bridge().communicators(devices);
            try {
                for (DType dtype : DType.values()) {
                    if (!devices.stream().allMatch(d -> d.supports(dtype))) {
                        continue;
                    }
                    for (long scale : new long[] {0, 1, 7, 3001}) {
                        checkAllToAllV(comms, devices, dtype, scale, new SplittableRandom(scale * 17 + size * 3 + dtype.ordinal()));
                    }
                }
            } finally {
                comms.forEach(Communicator::close);
            }
        }
    }

    /** One all-to-all-v with counts up to {@code scale} (about a third of them zero), checked byte by byte, gaps included. */
    private void checkAllToAllV(List<Communicator> comms, List<Device> devices, DType dtype, long scale, SplittableRandom rnd) {
        int size = comms.size();
        int es = (int) dtype.byteSize();
        long[][] counts = new long[size][size]; // counts[i][j]: rank i to rank j
        for (long[] row : counts) {
            for (int j = 0; j < size; j++) {
                row[j] = scale == 0 || rnd.nextInt(3) == 0 ? 0 : 1 + rnd.nextLong(scale);
            }
        }
        long[][] sendCounts = new long[size][], sendDispls = new long[size][], recvCounts = new long[size][], recvDispls = new long[size][];
        List<DeviceBuffer> sends = new ArrayList<>(), recvs = new ArrayList<>();
        byte[][] sendBytes = new byte[size][], recvBefore = new byte[size][];
        try {
            for (int r = 0; r < size; r++) {
                sendCounts[r] = counts[r].clone();
                recvCounts[r] = new long[size];
                for (int i = 0; i < size; i++) {
                    recvCounts[r][i] = counts[i][r];
                }
                long[] sd = scatteredLayout(rnd, sendCounts[r]), rd = scatteredLayout(rnd, recvCounts[r]);
                sendDispls[r] = Arrays.copyOf(sd, size);
                recvDispls[r] = Arrays.copyOf(rd, size);
                sendBytes[r] = randomBytes(rnd, sd[size] * es);
                recvBefore[r] = randomBytes(rnd, rd[size] * es);
                sends.add(upload(bridge(), devices.get(r), dtype, sendBytes[r]));
                recvs.add(upload(bridge(), devices.get(r), dtype, recvBefore[r]));
            }
            onAllRanks(comms, c -> c.allToAllVAsync(sends.get(c.rank()), sendCounts[c.rank()], sendDispls[c.rank()],
                    recvs.get(c.rank()), recvCounts[c.rank()], recvDispls[c.rank()], Duration.ofSeconds(60)));
            String what = "allToAllV " + dtype.label() + " ranks " + size + " scale " + scale;
            for (int r = 0; r < size; r++) {
                byte[] expect = recvBefore[r].clone(); // bytes outside every block must stay as they were
                for (int i = 0; i < size; i++) {
                    System.arraycopy(sendBytes[i], (int) (sendDispls[i][r] * es), expect, (int) (recvDispls[r][i] * es), (int) (recvCounts[r][i] * es));
                }
                assertTrue(Arrays.equals(expect, download(recvs.get(r))), what + ": recv of rank " + r);
                assertTrue(Arrays.equals(sendBytes[r], download(sends.get(r))), what + ": send of rank " + r + " changed");
            }
        } finally {
            sends.forEach(DeviceBuffer::close);
            recvs.forEach(DeviceBuffer::close);
        }
    }

    @Tag("collectives")
    @Test
    default void allToAllWithEqualBlocksTransposesTheBlocks() {
        int size = 3;
        long block = 1001;
        List<Device> devices = ranks(size);
        List<Communicator> comms = bridge().communicators(devices);
        List<DeviceBuffer> sends = new ArrayList<>(), recvs = new ArrayList<>();
        try {
            for (int r = 0; r < size; r++) {
                float[] x = new float[(int) (block * size)];
                for (int i = 0; i < x.length; i++) {
                    x[i] = r * 1_000_000 + i; // exact in F32: rank and position
                }
                sends.add(bridge().allocate(devices.get(r), DType.F32, x.length).copyFrom(x));
                recvs.add(bridge().allocate(devices.get(r), DType.F32, x.length));
            }
            onAllRanks(comms, c -> c.allToAllAsync(sends.get(c.rank()), recvs.get(c.rank()), block, Duration.ofSeconds(60)));
            for (int r = 0; r < size; r++) {
                float[] got = recvs.get(r).toFloatArray();
                for (int i = 0; i < size; i++) {
                    for (int k = 0; k < block; k++) {
                        assertEquals(i * 1_000_000 + r * block + k, got[(int) (i * block + k)], 0.0f, "rank " + r + " block " + i + " element " + k);
                    }
                }
            }
        } finally {
            sends.forEach(DeviceBuffer::close);
            recvs.forEach(DeviceBuffer::close);
            comms.forEach(Communicator::close);
        }
    }

    @Tag("collectives")
    @Test
    default void allToAllPairMismatchFailsEveryRankNamingBothAndWritesNothing() {
        int size = 3;
        List<Device> devices = ranks(size);
        List<Communicator> comms = bridge().communicators(devices);
        List<DeviceBuffer> sends = new ArrayList<>(), recvs = new ArrayList<>();
        try {
            byte[] sentinel = randomBytes(new SplittableRandom(3), 4 * 40);
            for (int r = 0; r < size; r++) {
                sends.add(upload(bridge(), devices.get(r), DType.F32, randomBytes(new SplittableRandom(r), 4 * 40)));
                recvs.add(upload(bridge(), devices.get(r), DType.F32, sentinel));
            }
            long[] counts = {4, 4, 4}, displs = {0, 10, 20};
            // Rank 1 expects 5 elements from rank 2, which sends it 4.
            long[] rank1Expects = {4, 4, 5};
            List<CompletableFuture<Void>> fs = new ArrayList<>();
            for (Communicator c : comms) {
                fs.add(c.allToAllVAsync(sends.get(c.rank()), counts, displs, recvs.get(c.rank()), c.rank() == 1 ? rank1Expects : counts, displs,
                        Duration.ofSeconds(30)));
            }
            for (CompletableFuture<Void> f : fs) {
                ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(30, TimeUnit.SECONDS));
                CollectiveMismatchException m = assertInstanceOf(CollectiveMismatchException.class, e.getCause());
                assertTrue(m.getMessage().contains("rank 2 sends 4 elements to rank 1") && m.getMessage().contains("rank 1 expects 5 from rank 2"),
                        m.getMessage());
            }
            for (DeviceBuffer recv : recvs) {
                assertTrue(Arrays.equals(sentinel, download(recv)), "a mismatched all-to-all must not write");
            }
        } finally {
            sends.forEach(DeviceBuffer::close);
            recvs.forEach(DeviceBuffer::close);
            comms.forEach(Communicator::close);
        }
    }

    @Tag("collectives")
    @Test
    default void allToAllMissingRankTimesOutNamingIt() {
        List<Device> devices = ranks(3);
        List<Communicator> comms = bridge().communicators(devices);
        List<DeviceBuffer> bufs = new ArrayList<>();
        try {
            for (Device d : devices) {
                bufs.add(bridge().allocate(d, DType.F32, 30));
                bufs.add(bridge().allocate(d, DType.F32, 30));
            }
            CompletableFuture<Void> r0 = comms.get(0).allToAllAsync(bufs.get(0), bufs.get(1), 10, MISSING_RANK_DEADLINE);
            CompletableFuture<Void> r1 = comms.get(1).allToAllAsync(bufs.get(2), bufs.get(3), 10, MISSING_RANK_DEADLINE);
            for (CompletableFuture<Void> f : List.of(r0, r1)) {
                ExecutionException e = assertThrows(ExecutionException.class, () -> assertTimeoutPreemptively(Duration.ofSeconds(30), () -> f.get()));
                CollectiveTimeoutException t = assertInstanceOf(CollectiveTimeoutException.class, e.getCause());
                assertEquals(List.of(2), t.missingRanks());
            }
        } finally {
            bufs.forEach(DeviceBuffer::close);
            comms.forEach(Communicator::close);
        }
    }

    @Tag("collectives")
    @Test
    default void allToAllRejectsBadArgumentsNamingThemAndWritesNothing() {
        List<Device> devices = ranks(2);
        List<Communicator> comms = bridge().communicators(devices);
        Communicator c = comms.getFirst();
        byte[] sentinel = randomBytes(new SplittableRandom(8), 4 * 10);
        try (DeviceBuffer send = bridge().allocate(devices.getFirst(), DType.F32, 10);
             DeviceBuffer recv = upload(bridge(), devices.getFirst(), DType.F32, sentinel)) {
            long[] two = {2, 2}, at = {0, 5};
            assertMessage(() -> c.allToAllV(null, two, at, recv, two, at), "send must not be null");
            assertMessage(() -> c.allToAllV(send, two, at, null, two, at), "recv must not be null");
            assertMessage(() -> c.allToAllV(send, null, at, recv, two, at), "sendCounts must not be null");
            assertMessage(() -> c.allToAllV(send, new long[] {1, 1, 1}, at, recv, two, at), "sendCounts must have one entry per rank (2), has 3");
            assertMessage(() -> c.allToAllV(send, two, new long[] {0}, recv, two, at), "sendDispls must have one entry per rank (2), has 1");
            assertMessage(() -> c.allToAllV(send, two, at, recv, new long[] {2, -1}, at), "recvCounts[1] must be >= 0, got -1");
            assertMessage(() -> c.allToAllV(send, two, new long[] {-3, 0}, recv, two, at), "sendDispls[0] must be >= 0, got -3");
            assertMessage(() -> c.allToAllV(send, two, new long[] {0, 9}, recv, two, at), "send block 1 must lie inside send");
            assertMessage(() -> c.allToAllV(send, two, at, recv, two, new long[] {0, Long.MAX_VALUE}), "recv block 1 must lie inside recv");
            assertMessage(() -> c.allToAllV(send, two, at, recv, new long[] {3, 2}, new long[] {2, 3}), "recv blocks must not overlap: block 0 [2, 5) and block 1 [3, 5)");
            assertMessage(() -> c.allToAllV(send, two, at, send, two, at), "recv must not be send");
            assertMessage(() -> c.allToAll(send, recv, 6), "send block 1 must lie inside send");
            assertMessage(() -> c.allToAll(send, recv, -1), "countPerPeer must be >= 0");
            assertMessage(() -> c.allToAllVAsync(send, two, at, recv, two, at, Duration.ZERO), "timeout must be a positive duration");
            DType otherType = devices.getFirst().supports(DType.I32) ? DType.I32 : DType.F64;
            if (devices.getFirst().supports(otherType)) {
                try (DeviceBuffer other = bridge().allocate(devices.getFirst(), otherType, 10)) {
                    assertMessage(() -> c.allToAllV(send, two, at, other, two, at), "recv must have the element type of send");
                }
            }
            assertTrue(Arrays.equals(sentinel, download(recv)), "a rejected all-to-all must not write");
            // Overlapping send blocks are fine (a block may go to several ranks); nothing reached the group.
            long[] same = {0, 0};
            List<DeviceBuffer> recvs = List.of(recv, bridge().allocate(devices.get(1), DType.F32, 10));
            List<DeviceBuffer> sendsOf = List.of(send, bridge().allocate(devices.get(1), DType.F32, 10));
            onAllRanks(comms, x -> x.allToAllVAsync(sendsOf.get(x.rank()), two, same, recvs.get(x.rank()), two, at, Duration.ofSeconds(30)));
            recvs.get(1).close();
            sendsOf.get(1).close();
        } finally {
            comms.forEach(Communicator::close);
        }
    }

    @Tag("collectives")
    @Test
    default void exchangeCountsGivesEveryRankEveryRow() {
        List<Device> devices = ranks(3);
        List<Communicator> comms = bridge().communicators(devices);
        // A thread per rank: each call blocks until every rank has arrived.
        java.util.concurrent.ExecutorService threads = java.util.concurrent.Executors.newFixedThreadPool(3);
        try {
            List<CompletableFuture<long[][]>> fs = comms.stream()
                    .map(c -> CompletableFuture.supplyAsync(() -> c.exchangeCounts(new long[] {c.rank(), 10L * c.rank(), Long.MIN_VALUE + c.rank(), 1L << 40}), threads))
                    .toList();
            for (CompletableFuture<long[][]> f : fs) {
                long[][] all = assertTimeoutPreemptively(Duration.ofSeconds(60), () -> f.get());
                for (int r = 0; r < 3; r++) {
                    assertTrue(Arrays.equals(new long[] {r, 10L * r, Long.MIN_VALUE + r, 1L << 40}, all[r]), "row " + r + ": " + Arrays.toString(all[r]));
                }
            }
        } finally {
            threads.shutdownNow();
            comms.forEach(Communicator::close);
        }
    }
}
