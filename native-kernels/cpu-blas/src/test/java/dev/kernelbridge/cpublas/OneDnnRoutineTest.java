package dev.kernelbridge.cpublas;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kernelbridge.Config;
import dev.kernelbridge.DType;
import dev.kernelbridge.DeviceBuffer;
import dev.kernelbridge.GemmOp;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.Layout;
import dev.kernelbridge.Transpose;
import dev.kernelbridge.cpu.routines.CpuRoutineProvider;
import dev.kernelbridge.spi.GemmCall;
import dev.kernelbridge.spi.HostBuffer;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The oneDNN routine behind cpu:0: exact I8 with zero points over the whole int8 range, BF16 -> F32, and what it refuses. */
class OneDnnRoutineTest {
    @BeforeAll
    static void present() {
        RoutinePresent.assume(new OneDnnProvider());
    }

    private static KernelBridge onednn() {
        return KernelBridge.open(Config.defaults().with(Config.BACKEND, "cpu").with(CpuRoutineProvider.SETTING, "onednn"));
    }

    @Test
    void i8WithZeroPointsIsExactOverTheWholeRangeAndAddsToCWithBetaOne() {
        int m = 37, n = 29, k = 300, za = -128, zb = 127; // extremes: the products' sums leave 16 bits far behind
        SplittableRandom r = new SplittableRandom(8);
        byte[] a = new byte[m * k], b = new byte[k * n];
        for (int i = 0; i < a.length; i++) { a[i] = (byte) r.nextInt(256); }
        for (int i = 0; i < b.length; i++) { b[i] = (byte) r.nextInt(256); }
        int[] c0 = new int[m * n];
        for (int i = 0; i < c0.length; i++) { c0[i] = r.nextInt(); }
        int[] expected = new int[m * n];
        for (int j = 0; j < n; j++) {
            for (int i = 0; i < m; i++) {
                int sum = c0[i + j * m]; // beta = 1, wrapping as the contract says
                for (int l = 0; l < k; l++) {
                    sum += (a[i + l * m] - za) * (b[l + j * k] - zb);
                }
                expected[i + j * m] = sum;
            }
        }
        try (KernelBridge kb = onednn();
             DeviceBuffer da = kb.allocate(DType.I8, (long) m * k).copyFrom(a);
             DeviceBuffer db = kb.allocate(DType.I8, (long) k * n).copyFrom(b);
             DeviceBuffer dc = kb.allocate(DType.I32, (long) m * n).copyFrom(c0)) {
            kb.gemm(GemmOp.builder().layout(Layout.COLUMN_MAJOR).shape(m, n, k).alpha(1).a(da, 0, m).b(db, 0, k).beta(1).c(dc, 0, m)
                    .zeroPoints(za, zb).build());
            assertArrayEquals(expected, dc.toIntArray());
        }
    }

    @Test
    void bf16ToF32SumsExactProductsInF32() {
        // Small integers: every product and partial sum is exact in F32, whatever order oneDNN sums in.
        int m = 40, n = 24, k = 64;
        SplittableRandom r = new SplittableRandom(9);
        float[] a = new float[m * k], b = new float[k * n];
        for (int i = 0; i < a.length; i++) { a[i] = r.nextInt(9) - 4; }
        for (int i = 0; i < b.length; i++) { b[i] = r.nextInt(9) - 4; }
        float[] expected = new float[m * n];
        for (int j = 0; j < n; j++) {
            for (int i = 0; i < m; i++) {
                float s = 0;
                for (int l = 0; l < k; l++) {
                    s += a[l + i * k] * b[l + j * k]; // A stored k x m (transposed)
                }
                expected[i + j * m] = 2 * s;
            }
        }
        try (KernelBridge kb = onednn();
             DeviceBuffer da = kb.allocate(DType.BF16, (long) m * k).copyFrom(a);
             DeviceBuffer db = kb.allocate(DType.BF16, (long) k * n).copyFrom(b);
             DeviceBuffer dc = kb.allocate(DType.F32, (long) m * n)) {
            kb.gemm(GemmOp.builder().layout(Layout.COLUMN_MAJOR).transA(Transpose.TRANS).shape(m, n, k).alpha(2).a(da, 0, k).b(db, 0, k)
                    .beta(0).c(dc, 0, m).build());
            assertArrayEquals(expected, dc.toFloatArray());
        }
    }

    @Test
    void itRefusesWhatItWouldNotComputeAsOurContractSays() {
        OneDnnRoutine r = new OneDnnRoutine(OneDnn.load(OneDnn.SONAME), 1);
        assertNull(r.refusal(call(DType.F32, DType.F32, 1, 0)));
        assertNull(r.refusal(call(DType.BF16, DType.F32, 1, 0)));
        assertNull(r.refusal(call(DType.I8, DType.I32, 1, 1)));
        assertNotNull(r.refusal(call(DType.BF16, DType.BF16, 1, 0)), "no BF16 C");
        assertNotNull(r.refusal(call(DType.F64, DType.F64, 1, 0)));
        assertNotNull(r.refusal(call(DType.F16, DType.F32, 1, 0)));
        assertTrue(r.refusal(call(DType.I8, DType.I32, 3, 0)).contains("rounds"), "alpha 3 would be scaled in F32");
        assertTrue(r.refusal(call(DType.I8, DType.I32, 1, 2)).contains("rounds"));
    }

    private static GemmCall call(DType in, DType out, double alpha, double beta) {
        HostBuffer b = HostBuffer.allocate("cpu:0", 8);
        return new GemmCall(out, Transpose.NO_TRANS, Transpose.NO_TRANS, 8, 8, 8, alpha, b, 0, 8, 0, b, 0, 8, 0, beta, b, 0, 8, 0, 1, in, 0, 0);
    }
}
