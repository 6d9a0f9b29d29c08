package dev.kernelbridge.opencl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kernelbridge.Config;
import dev.kernelbridge.DType;
import dev.kernelbridge.Device;
import dev.kernelbridge.DeviceBuffer;
import dev.kernelbridge.DeviceException;
import dev.kernelbridge.Dispatch;
import dev.kernelbridge.GemmOp;
import dev.kernelbridge.GroupedGemm;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.Layout;
import dev.kernelbridge.Transpose;
import dev.kernelbridge.spi.Availability;
import dev.kernelbridge.spi.Backend;
import dev.kernelbridge.spi.BackendProvider;
import dev.kernelbridge.tuning.GroupedGemmTable;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The one-launch grouped path of the OpenCL backend on real PoCL devices: which kernels a grouped
 * call enqueues (counted by the device's own queue), that a call with more buffers than a launch's
 * slots splits into launches without losing a group, and what a faulting grouped call leaves behind.
 * Data are small integers, so every result is compared bitwise.
 */
class OpenClGroupedKernelTest {
    /** A skewed router's expert sizes: empty (first, middle, last), single-row and larger groups. */
    private static final long[] SIZES = {0, 37, 1, 0, 64, 9, 1, 130, 0};
    private static final int N = 24, K = 19;

    @BeforeEach
    void needOpenCl() {
        OpenClTestSupport.assumeOpenCl();
    }

    /** The real OpenCL backend, kept so the test can read its devices' launch counts. */
    private static final class Kept implements BackendProvider {
        OpenClBackend backend;

        @Override
        public String name() { return "opencl"; }

        @Override
        public int priority() { return 20; }

        @Override
        public Availability probe() { return new OpenClBackendProvider().probe(); }

        @Override
        public Backend open(Config config) {
            backend = new OpenClBackend(config);
            return backend;
        }
    }

    @Test
    void aRaggedCallOfEveryTypePairIsOnePackPerOperandAndOneGemmLaunch() {
        Kept kept = new Kept();
        try (KernelBridge bridge = KernelBridge.open(Config.defaults(), List.of(kept))) {
            Device device = bridge.device("opencl:0");
            OpenClQueue queue = kept.backend.openClDevices().getFirst().commandQueue();
            long[] offsets = offsets(SIZES);
            int rows = (int) offsets[SIZES.length] + 2, groups = SIZES.length;
            DType[][] pairs = {{DType.F32, DType.F32}, {DType.F64, DType.F64}, {DType.BF16, DType.BF16}, {DType.BF16, DType.F32},
                    {DType.F16, DType.F16}, {DType.F16, DType.F32}, {DType.I8, DType.I32}};
            int ran = 0;
            for (DType[] pair : pairs) {
                if (!device.dtypes().contains(pair[0])) {
                    continue;
                }
                SplittableRandom r = new SplittableRandom(ran);
                double[] a = ints(r, rows * K), b = ints(r, groups * K * N), c = ints(r, rows * N);
                // I8 carries zero points: (a − za)(b − zb) stays a small exact integer.
                int za = pair[0] == DType.I8 ? 1 : 0, zb = pair[0] == DType.I8 ? -2 : 0;
                double[] want = ragged(offsets, a, b, c, za, zb, 2, -1);
                long[] before = counts(queue);
                try (DeviceBuffer da = upload(bridge, device, pair[0], a); DeviceBuffer db = upload(bridge, device, pair[0], b);
                     DeviceBuffer dc = upload(bridge, device, pair[1], c)) {
                    bridge.groupedGemm().run(GroupedGemm.Ragged.builder().offsets(offsets).shape(N, K).alpha(2).beta(-1)
                            .zeroPoints(za, zb).a(da).b(db).c(dc).build());
                    assertArrayEquals(want, download(dc), pair[0].label() + "->" + pair[1].label());
                }
                long[] after = counts(queue);
                assertEquals(2, after[0] - before[0], "one grouped pack per operand, " + pair[0].label());
                assertEquals(1, after[1] - before[1], "one gemm_grouped for every group, " + pair[0].label());
                assertEquals(0, after[2] - before[2], "no plain pack_panels, " + pair[0].label());
                assertEquals(0, after[3] - before[3], "no plain gemm_packed, " + pair[0].label());
                ran++;
            }
            assertTrue(ran >= 6, "PoCL declares every input type but maybe F64: ran " + ran);
        }
    }

    @Test
    void moreBuffersThanSlotsSplitIntoLaunchesAndEveryGroupIsRight() {
        Kept kept = new Kept();
        try (KernelBridge bridge = KernelBridge.open(Config.defaults(), List.of(kept))) {
            Device device = bridge.device("opencl:0");
            OpenClQueue queue = kept.backend.openClDevices().getFirst().commandQueue();
            int groups = GroupedGemmTable.SLOTS + 3;
            List<DeviceBuffer> open = new ArrayList<>();
            try {
                List<GemmOp> ops = new ArrayList<>();
                List<double[]> wants = new ArrayList<>();
                List<DeviceBuffer> cs = new ArrayList<>();
                SplittableRandom r = new SplittableRandom(7);
                for (int g = 0; g < groups; g++) {
                    // Column-major m×n×k with k == 0 in one group (C := beta·C) and transposed A in others.
                    int m = 1 + g * 3, n = 2 + g % 5, k = g == 4 ? 0 : 1 + g % 7;
                    Transpose ta = g % 2 == 0 ? Transpose.NO_TRANS : Transpose.TRANS;
                    double[] a = ints(r, Math.max(1, m * k)), b = ints(r, Math.max(1, k * n)), c = ints(r, m * n);
                    double[] want = new double[m * n];
                    for (int i = 0; i < m; i++) {
                        for (int j = 0; j < n; j++) {
                            double s = 0;
                            for (int p = 0; p < k; p++) {
                                s += a[ta == Transpose.NO_TRANS ? i + p * m : p + i * k] * b[p + j * k];
                            }
                            want[i + j * m] = k == 0 ? 3 * c[i + j * m] : s + 3 * c[i + j * m];
                        }
                    }
                    DeviceBuffer da = upload(bridge, device, DType.F32, a), db = upload(bridge, device, DType.F32, b);
                    DeviceBuffer dc = upload(bridge, device, DType.F32, c);
                    open.addAll(List.of(da, db, dc));
                    ops.add(GemmOp.builder().layout(Layout.COLUMN_MAJOR).transA(ta).shape(m, n, k).beta(3)
                            .a(da, 0, ta == Transpose.NO_TRANS ? m : Math.max(1, k)).b(db, 0, Math.max(1, k)).c(dc, 0, m).build());
                    wants.add(want);
                    cs.add(dc);
                }
                long[] before = counts(queue);
                bridge.groupedGemm().run(ops);
                long[] after = counts(queue);
                for (int g = 0; g < groups; g++) {
                    assertArrayEquals(wants.get(g), download(cs.get(g)), "group " + g);
                }
                assertEquals(2, after[1] - before[1], groups + " groups with their own buffers: two launches of " + GroupedGemmTable.SLOTS
                        + " slots");
                assertEquals(0, after[3] - before[3], "no group took the plain path");
            } finally {
                open.forEach(DeviceBuffer::close);
            }
        }
    }

    @Test
    @Tag("R24")
    void aFaultingGroupedCallOnDeviceBuffersThrowsWithTheDeviceAndLeavesCAsItWas() {
        Config config = Config.defaults().with(Config.FAULTS, "opencl:0=fail-every:1,times:1");
        try (KernelBridge bridge = KernelBridge.open(config, List.of(new OpenClBackendProvider()))) {
            Device device = bridge.device("opencl:0");
            long[] offsets = offsets(SIZES);
            int rows = (int) offsets[SIZES.length], groups = SIZES.length;
            SplittableRandom r = new SplittableRandom(11);
            double[] a = ints(r, rows * K), b = ints(r, groups * K * N), c = ints(r, rows * N);
            try (DeviceBuffer da = upload(bridge, device, DType.F32, a); DeviceBuffer db = upload(bridge, device, DType.F32, b);
                 DeviceBuffer dc = upload(bridge, device, DType.F32, c)) {
                GroupedGemm.Ragged call = GroupedGemm.Ragged.builder().offsets(offsets).shape(N, K).beta(1).a(da).b(db).c(dc).build();
                DeviceException e = assertThrows(DeviceException.class, () -> bridge.groupedGemm().run(call));
                assertEquals("opencl:0", e.deviceId());
                assertEquals("INJECTED_LAUNCH_FAILURE", e.nativeName());
                assertEquals(-5, e.nativeCode());
                assertArrayEquals(c, download(dc), "the failed grouped call wrote C");
                assertEquals(1, bridge.metrics().device("opencl:0").failures(), bridge.metrics().toString());
                // The fault was one launch: the next call runs and is right.
                bridge.groupedGemm().run(call);
                assertArrayEquals(ragged(offsets, a, b, c, 0, 0, 1, 1), download(dc));
            }
        }
    }

    @Test
    @Tag("R32")
    void whenOneDeviceOfASplitFaultsWithoutFallbackNoGroupIsWrittenAndTheCallFails() {
        Config config = Config.defaults().with(Config.FAULTS, "opencl:1=fail-every:1");
        try (KernelBridge bridge = KernelBridge.open(config, List.of(new OpenClBackendProvider())); Arena arena = Arena.ofShared()) {
            long cl = bridge.devices().stream().filter(d -> d.backend().equals("opencl")).count();
            if (OpenClTestSupport.required()) {
                assertTrue(cl >= 2, "POCL_DEVICES=\"pthread pthread\" should give two OpenCL devices");
            }
            assumeTrue(cl >= 2, "needs two OpenCL devices");
            long[] offsets = offsets(new long[] {90, 3, 0, 70, 1, 55, 40, 12});
            int groups = offsets.length - 1, rows = (int) offsets[groups];
            SplittableRandom r = new SplittableRandom(13);
            double[] a = ints(r, rows * K), b = ints(r, groups * K * N), c = ints(r, rows * N);
            MemorySegment sa = floats(arena, a), sb = floats(arena, b), sc = floats(arena, c);
            Dispatch split = Dispatch.split(List.of(bridge.device("opencl:0"), bridge.device("opencl:1"))).alwaysSplit().withFallback(false);
            DeviceException e = assertThrows(DeviceException.class, () -> bridge.groupedGemm().with(split).gemmRagged(Layout.ROW_MAJOR,
                    Transpose.NO_TRANS, Transpose.NO_TRANS, offsets, N, K, 1, DType.F32, sa, K, sb, N, (long) K * N, 1, DType.F32, sc, N));
            assertEquals("opencl:1", e.deviceId());
            assertTrue(bridge.metrics().device("opencl:0").launches() >= 1, "opencl:0 ran its groups: " + bridge.metrics());
            double[] after = new double[c.length];
            for (int i = 0; i < c.length; i++) {
                after[i] = sc.getAtIndex(ValueLayout.JAVA_FLOAT, i);
            }
            assertArrayEquals(c, after, "groups finished on opencl:0 must not reach C while opencl:1's failed");
        }
    }

    // ---------------------------------------------------------------- helpers

    /** Launches so far of the grouped packs (box and row search), gemm_grouped, pack_panels, gemm_packed. */
    private static long[] counts(OpenClQueue q) {
        return new long[] {q.launches("pack_grouped_box") + q.launches("pack_grouped_rows"), q.launches("gemm_grouped"), q.launches("pack_panels"), q.launches("gemm_packed")};
    }

    private static long[] offsets(long[] sizes) {
        long[] o = new long[sizes.length + 1];
        for (int g = 0; g < sizes.length; g++) {
            o[g + 1] = o[g] + sizes[g];
        }
        return o;
    }

    /** Row-major ragged reference: C_g := alpha·(A_g − za)(B_g − zb) + beta·C_g, rows past the last group kept. */
    private static double[] ragged(long[] offsets, double[] a, double[] b, double[] c, int za, int zb, double alpha, double beta) {
        double[] want = c.clone();
        for (int g = 0; g + 1 < offsets.length; g++) {
            for (long i = offsets[g]; i < offsets[g + 1]; i++) {
                for (int j = 0; j < N; j++) {
                    double s = 0;
                    for (int p = 0; p < K; p++) {
                        s += (a[(int) i * K + p] - za) * (b[g * K * N + p * N + j] - zb);
                    }
                    want[(int) i * N + j] = alpha * s + beta * c[(int) i * N + j];
                }
            }
        }
        return want;
    }

    /** Integers in [−2, 2]: exact in every type; 19 products times 2 stay within BF16's 8 bits of precision. */
    private static double[] ints(SplittableRandom r, int count) {
        double[] v = new double[count];
        for (int i = 0; i < count; i++) {
            v[i] = r.nextInt(5) - 2;
        }
        return v;
    }

    private static MemorySegment floats(Arena arena, double[] v) {
        MemorySegment s = arena.allocate(4L * v.length, 64);
        for (int i = 0; i < v.length; i++) {
            s.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) v[i]);
        }
        return s;
    }

    private static DeviceBuffer upload(KernelBridge bridge, Device device, DType t, double[] v) {
        DeviceBuffer buf = bridge.allocate(device, t, v.length);
        buf.copyFrom(0, host(t, v));
        return buf;
    }

    private static MemorySegment host(DType t, double[] v) {
        MemorySegment s = MemorySegment.ofArray(new byte[v.length * t.byteSize()]);
        for (int i = 0; i < v.length; i++) {
            switch (t) {
                case F32 -> s.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, (float) v[i]);
                case F64 -> s.setAtIndex(ValueLayout.JAVA_DOUBLE_UNALIGNED, i, v[i]);
                case BF16 -> s.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, dev.kernelbridge.NarrowFloat.toBf16((float) v[i]));
                case F16 -> s.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, dev.kernelbridge.NarrowFloat.toF16((float) v[i]));
                case I8 -> s.set(ValueLayout.JAVA_BYTE, i, (byte) v[i]);
                case I32 -> s.setAtIndex(ValueLayout.JAVA_INT_UNALIGNED, i, (int) v[i]);
            }
        }
        return s;
    }

    private static double[] download(DeviceBuffer buf) {
        MemorySegment s = MemorySegment.ofArray(new byte[(int) buf.byteSize()]);
        buf.copyTo(0, s);
        DType t = buf.dtype();
        double[] v = new double[(int) (buf.byteSize() / t.byteSize())];
        for (int i = 0; i < v.length; i++) {
            v[i] = switch (t) {
                case F32 -> s.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i);
                case F64 -> s.getAtIndex(ValueLayout.JAVA_DOUBLE_UNALIGNED, i);
                case BF16 -> dev.kernelbridge.NarrowFloat.fromBf16(s.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i));
                case F16 -> dev.kernelbridge.NarrowFloat.fromF16(s.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i));
                case I8 -> s.get(ValueLayout.JAVA_BYTE, i);
                case I32 -> s.getAtIndex(ValueLayout.JAVA_INT_UNALIGNED, i);
            };
        }
        return v;
    }
}
