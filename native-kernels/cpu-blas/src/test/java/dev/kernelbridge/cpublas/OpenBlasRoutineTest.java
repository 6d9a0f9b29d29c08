package dev.kernelbridge.cpublas;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kernelbridge.Config;
import dev.kernelbridge.DType;
import dev.kernelbridge.DeviceBuffer;
import dev.kernelbridge.GemmOp;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.Layout;
import dev.kernelbridge.Transpose;
import dev.kernelbridge.spi.GemmCall;
import dev.kernelbridge.spi.HostBuffer;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The OpenBLAS routine behind cpu:0: what it refuses, that forcing it really runs OpenBLAS, and how a bad setting fails. */
class OpenBlasRoutineTest {
    @BeforeAll
    static void present() {
        RoutinePresent.assume(new OpenBlasProvider());
    }

    private static Config cpu(String routine) {
        return Config.defaults().with(Config.BACKEND, "cpu").with(dev.kernelbridge.cpu.routines.CpuRoutineProvider.SETTING, routine);
    }

    @Test
    void itRefusesWhatCblasDoesNotDefineAsOurContractDoes() {
        OpenBlasRoutine r = new OpenBlasRoutine(OpenBlas.load(OpenBlas.SONAME), 1);
        HostBuffer buf = HostBuffer.allocate("cpu:0", 64);
        try {
            assertNull(r.refusal(call(DType.F32, DType.F32, 8, 8, 8, 8, 8, 8)));
            assertNull(r.refusal(call(DType.F64, DType.F64, 8, 8, 8, 8, 8, 8)));
            assertNotNull(r.refusal(call(DType.BF16, DType.F32, 8, 8, 8, 8, 8, 8)), "no SBGEMM in CBLAS");
            assertNotNull(r.refusal(call(DType.I8, DType.I32, 8, 8, 8, 8, 8, 8)));
            assertTrue(r.refusal(call(DType.F32, DType.F32, 8, 8, 0, 8, 8, 8)).contains("k = 0"));
            assertTrue(r.refusal(call(DType.F32, DType.F32, 8, 8, 8, 4, 8, 8)).contains("leading dimension"), "lda below m");
            assertTrue(r.refusal(call(DType.F32, DType.F32, 1L << 31, 1, 1, 1L << 31, 1, 1L << 31)).contains("32-bit"));
        } finally {
            buf.release();
        }
    }

    private static GemmCall call(DType in, DType out, long m, long n, long k, long lda, long ldb, long ldc) {
        HostBuffer b = HostBuffer.allocate("cpu:0", 8);
        return new GemmCall(out, Transpose.NO_TRANS, Transpose.NO_TRANS, m, n, k, 1, b, 0, lda, 0, b, 0, ldb, 0, 0, b, 0, ldc, 0, 1, in, 0, 0);
    }

    @Test
    void forcedOpenBlasGivesExactlyTheBitsOfCallingCblasDirectly() throws Throwable {
        int m = 150, n = 70, k = 300;
        float[] a = random(m * k, 1), b = random(k * n, 2), c = random(m * n, 3);
        float[] viaBridge;
        try (KernelBridge kb = KernelBridge.open(cpu("openblas"));
             DeviceBuffer da = kb.allocate(DType.F32, (long) m * k).copyFrom(a);
             DeviceBuffer db = kb.allocate(DType.F32, (long) k * n).copyFrom(b);
             DeviceBuffer dc = kb.allocate(DType.F32, (long) m * n).copyFrom(c)) {
            kb.gemm(GemmOp.builder().layout(Layout.COLUMN_MAJOR).shape(m, n, k).alpha(1.5).a(da, 0, m).b(db, 0, k).beta(0.5).c(dc, 0, m).build());
            viaBridge = dc.toFloatArray();
        }
        OpenBlas lib = OpenBlas.load(OpenBlas.SONAME);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment sa = arena.allocateFrom(ValueLayout.JAVA_FLOAT, a), sb = arena.allocateFrom(ValueLayout.JAVA_FLOAT, b);
            MemorySegment sc = arena.allocateFrom(ValueLayout.JAVA_FLOAT, c);
            lib.sgemm.invokeExact(OpenBlas.COL_MAJOR, OpenBlas.NO_TRANS, OpenBlas.NO_TRANS, m, n, k, 1.5f, sa, m, sb, k, 0.5f, sc, m);
            assertArrayEquals(sc.toArray(ValueLayout.JAVA_FLOAT), viaBridge, "cpu:0 forced onto openblas must be OpenBLAS, bit for bit");
        }
    }

    @Test
    void javaArraysSmallAndLargeGiveTheBitsOfCblasOnNativeCopies() throws Throwable {
        // Small: a critical call on the arrays in place; large: the footprints staged through native memory.
        for (int size : new int[] {20, 160}) {
            int m = size, n = size + 3, k = size + 5, lda = k + 2, ldb = k + 1, ldc = m + 4, offA = 3, offB = 5, offC = 7;
            float[] a = random(offA + lda * m, 6), b = random(offB + ldb * n, 7), c = random(offC + ldc * n, 8);
            float[] expected = c.clone();
            OpenBlas lib = OpenBlas.load(OpenBlas.SONAME);
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment sa = arena.allocateFrom(ValueLayout.JAVA_FLOAT, a), sb = arena.allocateFrom(ValueLayout.JAVA_FLOAT, b);
                MemorySegment sc = arena.allocateFrom(ValueLayout.JAVA_FLOAT, c);
                lib.sgemm.invokeExact(OpenBlas.COL_MAJOR, OpenBlas.TRANS, OpenBlas.NO_TRANS, m, n, k, 0.75f, sa.asSlice(4L * offA), lda,
                        sb.asSlice(4L * offB), ldb, 1.25f, sc.asSlice(4L * offC), ldc);
                expected = sc.toArray(ValueLayout.JAVA_FLOAT);
            }
            try (KernelBridge kb = KernelBridge.open(cpu("openblas"))) {
                // op(A) = A^T: A is stored k x m with lda >= k
                kb.blas().sgemm("T", "N", m, n, k, 0.75f, a, offA, lda, b, offB, ldb, 1.25f, c, offC, ldc);
            }
            assertArrayEquals(expected, c, "n ~ " + size + ": C, its padding and what lies around it");
        }
    }

    @Test
    void autoKeepsOneRoutinePerShapeClassSoIdenticalCallsGiveIdenticalBits() {
        int n = 96;
        float[] a = random(n * n, 4), b = random(n * n, 5);
        try (KernelBridge kb = KernelBridge.open(cpu("auto"));
             DeviceBuffer da = kb.allocate(DType.F32, (long) n * n).copyFrom(a);
             DeviceBuffer db = kb.allocate(DType.F32, (long) n * n).copyFrom(b);
             DeviceBuffer dc = kb.allocate(DType.F32, (long) n * n)) {
            float[] first = null;
            for (int i = 0; i < 5; i++) {
                kb.gemm(GemmOp.builder().layout(Layout.COLUMN_MAJOR).shape(n, n, n).alpha(1).a(da, 0, n).b(db, 0, n).beta(0).c(dc, 0, n).build());
                float[] now = dc.toFloatArray();
                if (first == null) {
                    first = now;
                }
                assertArrayEquals(first, now, "call " + i);
            }
        }
    }

    @Test
    void aForcedRoutineThatIsNotInstalledIsAnErrorNamingTheSettingAndTheFix() {
        Config missing = cpu("openblas").with(OpenBlasProvider.LIBRARY, "/nonexistent/libopenblas.so.0");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> KernelBridge.open(missing).close());
        assertTrue(e.getMessage().contains("kernelbridge.cpu.gemm=openblas") && e.getMessage().contains("apt-get install libopenblas0"), e.getMessage());
    }

    @Test
    void anUnknownRoutineIsRefusedNamingTheRoutinesFound() {
        // The CPU backend fails to open with the setting's rule, and the bridge says so, naming the backend.
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> KernelBridge.open(cpu("mkl")).close());
        assertTrue(e.getMessage().contains("[vector, openblas, onednn]") && e.getMessage().contains("'mkl'"), e.getMessage());
    }

    @Test
    void theDeviceSaysWhichRoutinesItHas() {
        try (KernelBridge kb = KernelBridge.open(cpu("auto"))) {
            String name = kb.device("cpu:0").name();
            assertTrue(name.contains("+ openblas"), name);
        }
    }

    private static float[] random(int length, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[length];
        for (int i = 0; i < length; i++) {
            x[i] = (float) (r.nextDouble() * 2 - 1);
        }
        assertEquals(length, x.length);
        return x;
    }
}
