package dev.kernelbridge.opencl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kernelbridge.CollectiveTimeoutException;
import dev.kernelbridge.Communicator;
import dev.kernelbridge.Config;
import dev.kernelbridge.DType;
import dev.kernelbridge.Device;
import dev.kernelbridge.DeviceBuffer;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.ReduceOp;
import dev.kernelbridge.spi.BackendProvider;
import dev.kernelbridge.tck.CountingBackendProvider;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Collectives with OpenCL devices as ranks (two PoCL devices here): the reductions run on the
 * devices with reduce.cl, and every result must carry the bits of the CPU communicator for the
 * same inputs — on every rank, for every op, count and placement, also in groups that mix CPU
 * and OpenCL ranks (RELIABILITY R16, R37).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class OpenClCollectiveTest {
    private final CountingBackendProvider opencl = new CountingBackendProvider(new OpenClBackendProvider());
    private KernelBridge bridge;
    private List<Device> clDevices;
    private Device cpu;
    private ExecutorService threads;

    @BeforeAll
    void open() {
        OpenClTestSupport.assumeOpenCl();
        BackendProvider cpuProvider = java.util.ServiceLoader.load(BackendProvider.class).stream().map(java.util.ServiceLoader.Provider::get)
                .filter(p -> p.name().equals("cpu")).findFirst().orElseThrow();
        List<BackendProvider> providers = List.of(opencl, cpuProvider);
        bridge = KernelBridge.open(Config.defaults(), providers);
        clDevices = bridge.devices().stream().filter(d -> d.backend().equals("opencl")).toList();
        cpu = bridge.device("cpu:0");
        if (OpenClTestSupport.required()) {
            assertTrue(clDevices.size() >= 2, "POCL_DEVICES=\"pthread pthread\" should give two OpenCL devices, got " + clDevices);
        }
        assumeTrue(clDevices.size() >= 2, "needs two OpenCL devices (PoCL: POCL_DEVICES=\"pthread pthread\")");
        threads = Executors.newCachedThreadPool();
    }

    @AfterAll
    void close() {
        if (threads != null) {
            threads.shutdownNow();
        }
        if (bridge != null) {
            bridge.close();
        }
    }

    @Test
    void twoDevicesAllReduceWithTheCpuBitsForEveryOpCountAndPlacement() throws Exception {
        long before = opencl.reductions.get();
        List<Device> devices = List.of(clDevices.get(0), clDevices.get(1));
        List<Device> reference = List.of(cpu, cpu);
        for (DType dtype : List.of(DType.F32, DType.F64)) {
            for (ReduceOp op : ReduceOp.values()) {
                for (long count : new long[] {0, 1, 1023, 1024, 1025, 3 * 1024 + 7, 100_003}) {
                    for (boolean inPlace : new boolean[] {false, true}) {
                        List<double[]> inputs = inputs(devices.size(), count, op, 11 + count);
                        List<double[]> got = allReduce(devices, dtype, op, inputs, inPlace);
                        List<double[]> want = allReduce(reference, dtype, op, inputs, false);
                        for (int r = 0; r < devices.size(); r++) {
                            assertBitsEqual(want.get(0), got.get(r), dtype, op + " " + dtype + " count " + count
                                    + (inPlace ? " in place" : "") + ", rank " + r);
                        }
                    }
                }
            }
        }
        assertTrue(opencl.reductions.get() > before, "the reductions must have been offered to the OpenCL devices");
    }

    @Test
    void mixedCpuAndOpenClRanksAgreeWithAnAllCpuGroup() throws Exception {
        List<Device> devices = List.of(clDevices.get(0), cpu, clDevices.get(1));
        for (DType dtype : List.of(DType.F32, DType.F64)) {
            for (ReduceOp op : List.of(ReduceOp.SUM, ReduceOp.AVG, ReduceOp.MAX)) {
                List<double[]> inputs = inputs(3, 50_001, op, 5);
                List<double[]> got = allReduce(devices, dtype, op, inputs, false);
                List<double[]> want = allReduce(List.of(cpu, cpu, cpu), dtype, op, inputs, false);
                for (int r = 0; r < 3; r++) {
                    assertBitsEqual(want.get(0), got.get(r), dtype, "mixed group " + op + " " + dtype + ", rank " + r);
                }
            }
        }
    }

    /**
     * All-to-all-v between two OpenCL devices of one context (blocks copied device to device) and in a
     * mixed group with the CPU (host copy paths), every byte checked, gaps of recv untouched.
     */
    @Test
    void allToAllMovesBytesDeviceToDeviceAndAcrossCpuAndOpenCl() throws Exception {
        long before = opencl.deviceCopies.get();
        for (List<Device> devices : List.of(List.of(clDevices.get(0), clDevices.get(1)), List.of(clDevices.get(0), cpu, clDevices.get(1)))) {
            int size = devices.size();
            List<dev.kernelbridge.Communicator> comms = bridge.communicators(devices);
            List<DeviceBuffer> sends = new ArrayList<>(), recvs = new ArrayList<>();
            byte[][] sent = new byte[size][];
            long block = 1000; // rank i sends rank j (i + 1) * block + j elements of F64
            try {
                long[][] sc = new long[size][size], sd = new long[size][size], rc = new long[size][size], rd = new long[size][size];
                for (int r = 0; r < size; r++) {
                    long sat = 0, rat = 3;
                    for (int j = 0; j < size; j++) {
                        sc[r][j] = (r + 1) * block + j;
                        sd[r][j] = sat;
                        sat += sc[r][j];
                        rc[r][j] = (j + 1) * block + r;
                        rd[r][j] = rat;
                        rat += rc[r][j] + 5;
                    }
                    sent[r] = new byte[(int) (sat * 8)];
                    new java.util.Random(r).nextBytes(sent[r]);
                    sends.add(bridge.allocate(devices.get(r), DType.F64, sat).copyFrom(0, java.lang.foreign.MemorySegment.ofArray(sent[r])));
                    recvs.add(bridge.allocate(devices.get(r), DType.F64, rat).copyFrom(0, java.lang.foreign.MemorySegment.ofArray(new byte[(int) (rat * 8)])));
                }
                List<java.util.concurrent.CompletableFuture<Void>> calls = new ArrayList<>();
                for (var c : comms) {
                    int r = c.rank();
                    calls.add(c.allToAllVAsync(sends.get(r), sc[r], sd[r], recvs.get(r), rc[r], rd[r], Duration.ofSeconds(60)));
                }
                for (var f : calls) {
                    f.get(2, java.util.concurrent.TimeUnit.MINUTES);
                }
                for (int r = 0; r < size; r++) {
                    byte[] want = new byte[(int) recvs.get(r).byteSize()];
                    for (int i = 0; i < size; i++) {
                        System.arraycopy(sent[i], (int) (sd[i][r] * 8), want, (int) (rd[r][i] * 8), (int) (rc[r][i] * 8));
                    }
                    byte[] got = new byte[want.length];
                    recvs.get(r).copyTo(0, java.lang.foreign.MemorySegment.ofArray(got));
                    assertTrue(java.util.Arrays.equals(want, got), devices + ": recv of rank " + r);
                }
            } finally {
                sends.forEach(DeviceBuffer::close);
                recvs.forEach(DeviceBuffer::close);
                comms.forEach(dev.kernelbridge.Communicator::close);
            }
        }
        assertTrue(opencl.deviceCopies.get() > before, "blocks between devices of one context must be copied by the devices");
    }

    @Test
    void reduceScatterOnDevicesMatchesTheCpuAlignedOrNot() throws Exception {
        for (long count : new long[] {2048, 1000}) {
            List<double[]> inputs = inputs(2, 2 * count, ReduceOp.SUM, 3);
            List<double[]> got = reduceScatter(List.of(clDevices.get(0), clDevices.get(1)), DType.F32, inputs, count);
            List<double[]> want = reduceScatter(List.of(cpu, cpu), DType.F32, inputs, count);
            for (int r = 0; r < 2; r++) {
                assertBitsEqual(want.get(r), got.get(r), DType.F32, "reduce-scatter count " + count + ", rank " + r);
            }
        }
    }

    @Test
    void aRankThatNeverCallsIsNamedWhenTheDeadlinePasses() throws Exception {
        List<Communicator> comms = bridge.communicators(List.of(clDevices.get(0), clDevices.get(1)));
        try (DeviceBuffer send = bridge.allocate(clDevices.get(0), DType.F32, 4096);
             DeviceBuffer recv = bridge.allocate(clDevices.get(0), DType.F32, 4096)) {
            CompletableFuture<Void> lonely = comms.get(0).allReduceAsync(send, recv, 4096, ReduceOp.SUM, Duration.ofMillis(300));
            ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class, lonely::get);
            CollectiveTimeoutException timeout = assertInstanceOf(CollectiveTimeoutException.class, e.getCause());
            assertEquals(List.of(1), timeout.missingRanks());
        } finally {
            comms.forEach(Communicator::close);
        }
    }

    /** Per rank: finite values with signed zeros, subnormals and, for min and max, NaN. */
    private static List<double[]> inputs(int ranks, long count, ReduceOp op, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        List<double[]> out = new ArrayList<>();
        for (int r = 0; r < ranks; r++) {
            double[] x = new double[(int) count];
            for (int i = 0; i < count; i++) {
                x[i] = switch (rnd.nextInt(20)) {
                    case 0 -> -0.0;
                    case 1 -> 0.0;
                    case 2 -> Float.MIN_VALUE * rnd.nextInt(1, 100);
                    case 3 -> op == ReduceOp.MIN || op == ReduceOp.MAX ? Double.NaN : 1.5;
                    default -> op == ReduceOp.PROD ? rnd.nextDouble(0.5, 2) : rnd.nextDouble(-1000, 1000);
                };
            }
            out.add(x);
        }
        return out;
    }

    private List<double[]> allReduce(List<Device> devices, DType dtype, ReduceOp op, List<double[]> inputs, boolean inPlace) throws Exception {
        List<Communicator> comms = bridge.communicators(devices);
        List<DeviceBuffer> buffers = new ArrayList<>();
        try {
            long count = inputs.getFirst().length;
            List<Future<double[]>> results = new ArrayList<>();
            for (int r = 0; r < devices.size(); r++) {
                DeviceBuffer send = upload(devices.get(r), dtype, inputs.get(r));
                DeviceBuffer recv = inPlace ? send : bridge.allocate(devices.get(r), dtype, count);
                buffers.add(send);
                if (!inPlace) {
                    buffers.add(recv);
                }
                Communicator c = comms.get(r);
                results.add(threads.submit(() -> {
                    c.allReduce(send, recv, count, op);
                    return download(recv);
                }));
            }
            List<double[]> out = new ArrayList<>();
            for (Future<double[]> f : results) {
                out.add(f.get());
            }
            return out;
        } finally {
            buffers.forEach(DeviceBuffer::close);
            comms.forEach(Communicator::close);
        }
    }

    private List<double[]> reduceScatter(List<Device> devices, DType dtype, List<double[]> inputs, long count) throws Exception {
        List<Communicator> comms = bridge.communicators(devices);
        List<DeviceBuffer> buffers = new ArrayList<>();
        try {
            List<Future<double[]>> results = new ArrayList<>();
            for (int r = 0; r < devices.size(); r++) {
                DeviceBuffer send = upload(devices.get(r), dtype, inputs.get(r));
                DeviceBuffer recv = bridge.allocate(devices.get(r), dtype, count);
                buffers.add(send);
                buffers.add(recv);
                Communicator c = comms.get(r);
                results.add(threads.submit(() -> {
                    c.reduceScatter(send, recv, count, ReduceOp.SUM);
                    return download(recv);
                }));
            }
            List<double[]> out = new ArrayList<>();
            for (Future<double[]> f : results) {
                out.add(f.get());
            }
            return out;
        } finally {
            buffers.forEach(DeviceBuffer::close);
            comms.forEach(Communicator::close);
        }
    }

    private DeviceBuffer upload(Device device, DType dtype, double[] values) {
        DeviceBuffer b = bridge.allocate(device, dtype, values.length);
        if (dtype == DType.F32) {
            float[] f = new float[values.length];
            for (int i = 0; i < f.length; i++) {
                f[i] = (float) values[i];
            }
            b.copyFrom(f);
        } else {
            b.copyFrom(values);
        }
        return b;
    }

    private static double[] download(DeviceBuffer b) {
        if (b.dtype() == DType.F64) {
            return b.toDoubleArray();
        }
        float[] f = b.toFloatArray();
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = Float.intBitsToFloat(Float.floatToRawIntBits(f[i])); // widening keeps the value; bits compared below as F32
        }
        return d;
    }

    private static void assertBitsEqual(double[] want, double[] got, DType dtype, String what) {
        assertEquals(want.length, got.length, what + ": length");
        for (int i = 0; i < want.length; i++) {
            boolean same = dtype == DType.F32
                    ? Float.floatToIntBits((float) want[i]) == Float.floatToIntBits((float) got[i])
                    : Double.doubleToLongBits(want[i]) == Double.doubleToLongBits(got[i]);
            if (!same) {
                assertArrayEquals(new double[] {want[i]}, new double[] {got[i]}, what + ": element " + i + " differs");
            }
        }
    }
}
