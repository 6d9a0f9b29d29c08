package dev.kernelbridge.opencl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.kernelbridge.Config;
import dev.kernelbridge.DType;
import dev.kernelbridge.Device;
import dev.kernelbridge.DeviceBuffer;
import dev.kernelbridge.GemmOp;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.Layout;
import dev.kernelbridge.NarrowFloat;
import dev.kernelbridge.Transpose;
import dev.kernelbridge.spi.BackendBuffer;
import dev.kernelbridge.spi.GemmCall;
import dev.kernelbridge.tuning.GemmParameters;
import dev.kernelbridge.tuning.GemmVariant;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.IntToDoubleFunction;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * gemm.cl's BF16, F16 and I8 builds on a real OpenCL device (PoCL here), through the SPI so that
 * nothing but the device runs the call, against a host reference:
 * <ul>
 *   <li>exact cases (small integers, powers of two, I8 extremes and wrap-around) bitwise equal to
 *       the exact result rounded once to C's type;
 *   <li>random cases within the bound of F32 accumulation plus one output rounding:
 *       |got − exact| ≤ 2·(k+2)·2^-24·(|alpha|·Σ|a||b| + |beta·c|) + u_out·|exact| + half the
 *       smallest subnormal of C's type. The inputs widen exactly and their products are exact in
 *       F32, so only the k−1 additions, the scaling by alpha and beta (γ_{k+2}, doubled for the
 *       freedom to fuse or not) and the one final rounding (u_out: 2^-8 BF16, 2^-11 F16, 2^-24
 *       F32, plus the subnormal spacing) remain;
 *   <li>transposes, offsets, padded leading dimensions, batches, and padding that must survive;
 *       beta = 0 over NaN, k = 0, zero points; every tunable shape of the kernel.
 * </ul>
 */
class OpenClNarrowGemmTest {
    /** Every pair with a narrow input. */
    private static final List<GemmVariant> NARROW = GemmVariant.ALL.stream().filter(v -> v.input() != DType.F32 && v.input() != DType.F64).toList();
    private static final List<Transpose> TRANSPOSES = List.of(Transpose.NO_TRANS, Transpose.TRANS);

    @TempDir
    static Path cache;
    private static OpenClBackend backend;
    private static OpenClDevice device;

    @BeforeAll
    static void open() {
        OpenClTestSupport.assumeOpenCl();
        backend = new OpenClBackend(config());
        device = backend.openClDevices().getFirst();
    }

    @AfterAll
    static void close() {
        if (backend != null) {
            backend.close();
        }
    }

    private static Config config() {
        return Config.defaults().with(Config.BACKEND, "opencl").with(Config.CACHE_DIR, cache.toString());
    }

    @Test
    void everyOpenClDeviceDeclaresTheNarrowInputTypes() {
        for (OpenClDevice d : backend.openClDevices()) {
            assertTrue(d.info().dtypes().containsAll(List.of(DType.F32, DType.BF16, DType.F16, DType.I8)), d.id() + " " + d.info().dtypes());
        }
    }

    @Test
    void smallIntegersAreExactForEveryTransposeOffsetAndBatch() {
        for (GemmVariant v : NARROW) {
            boolean i8 = v.input() == DType.I8;
            for (Transpose ta : TRANSPOSES) {
                for (Transpose tb : TRANSPOSES) {
                    // |sum| ≤ 23·4 = 92, scaled by 2 plus 4 from C: below 256, exact even in BF16.
                    Shape s = new Shape(v, ta, tb, 37, 29, 23, 3, 3, i8 ? 3 : 2, i8 ? -2 : 0.5, i8 ? 5 : 0, i8 ? -7 : 0);
                    SplittableRandom rnd = new SplittableRandom(ta.ordinal() * 2 + tb.ordinal());
                    Run r = s.run(x -> rnd.nextInt(5) - 2, x -> rnd.nextInt(5) - 2, x -> 2 * (rnd.nextInt(9) - 4));
                    r.assertExact(s + "");
                }
            }
        }
    }

    @Test
    void powersOfTwoSumExactlyAndRoundOnceIntoC() {
        for (GemmVariant v : NARROW) {
            if (v.input() == DType.I8) {
                continue;
            }
            // Products 2^-8 … 2^8 over k = 61: every partial sum is exact in F32, while the sum needs
            // more bits than BF16 or F16 hold, so C shows its single rounding (ties to even included).
            SplittableRandom rnd = new SplittableRandom(11);
            IntToDoubleFunction pow = x -> (rnd.nextBoolean() ? 1 : -1) * Math.scalb(1.0, rnd.nextInt(9) - 4);
            Shape s = new Shape(v, Transpose.TRANS, Transpose.NO_TRANS, 19, 21, 61, 1, 2, 0.25, -0.5, 0, 0);
            s.run(pow, pow, pow).assertExact(s + "");
        }
    }

    @Test
    void aSumPastTheNarrowPrecisionRoundsOnceNotPerStep() {
        // k ones: F32 holds k exactly; a kernel that rounded each partial sum to C's type would stall
        // at 256 (BF16) or 2048 (F16). 2049 and 257 are ties (to even: down), 2051 and 259 round up.
        for (GemmVariant v : NARROW) {
            if (v.input() == DType.I8 || v.output() == DType.F32) {
                continue;
            }
            int[] ks = v.input() == DType.BF16 ? new int[] {257, 259, 300} : new int[] {2049, 2051, 2100};
            for (int k : ks) {
                Shape s = new Shape(v, Transpose.NO_TRANS, Transpose.TRANS, 3, 2, k, 0, 1, 1, 0, 0, 0);
                Run r = s.run(x -> 1, x -> 1, x -> Double.NaN);
                r.assertExact(s + "");
                float want = NarrowFloat.round(v.output(), k);
                assertEquals(want, (float) r.got[(int) s.offC()], s + ": " + k + " ones");
            }
        }
    }

    @Test
    void randomValuesStayWithinTheF32AccumulationBound() {
        for (GemmVariant v : NARROW) {
            if (v.input() == DType.I8) {
                continue;
            }
            for (Transpose ta : TRANSPOSES) {
                for (Transpose tb : TRANSPOSES) {
                    SplittableRandom rnd = new SplittableRandom(3 + ta.ordinal() + 2 * tb.ordinal());
                    IntToDoubleFunction u = x -> rnd.nextDouble(-1, 1);
                    Shape s = new Shape(v, ta, tb, 67, 45, 300, 5, 2, 1.5, -0.75, 0, 0);
                    s.run(u, u, u).assertWithinBound(s + "");
                }
            }
        }
    }

    @Test
    void i8ExtremesAreExactAndWrapModulo2To32() {
        GemmVariant i8 = new GemmVariant(DType.I8, DType.I32);
        // −128·−128 summed over k = 1000: 16 384 000, exact.
        Shape full = new Shape(i8, Transpose.TRANS, Transpose.NO_TRANS, 5, 7, 1000, 1, 2, 1, 0, 0, 0);
        Run r = full.run(x -> -128, x -> -128, x -> 0);
        r.assertExact(full + "");
        assertEquals(16_384_000, (int) r.got[(int) full.offC()]);
        // 131 073 such products exceed 2^31 − 1: the sum wraps, as does alpha·sum + beta·C.
        Shape wrap = new Shape(i8, Transpose.NO_TRANS, Transpose.TRANS, 3, 4, 131_073, 2, 1, 3, -7, 0, 0);
        SplittableRandom rnd = new SplittableRandom(9);
        Run w = wrap.run(x -> -128, x -> -128, x -> rnd.nextInt());
        w.assertExact(wrap + "");
        // Zero points at the ends of their range: (a − 127)(b + 128) spans −255 … 255 per factor.
        Shape zp = new Shape(i8, Transpose.TRANS, Transpose.TRANS, 9, 6, 4099, 3, 2, -1, 1, 127, -128);
        SplittableRandom z = new SplittableRandom(4);
        zp.run(x -> z.nextBoolean() ? -128 : 127, x -> z.nextBoolean() ? -128 : 127, x -> z.nextInt()).assertExact(zp + "");
    }

    @Test
    void betaZeroWritesCWithoutReadingItEvenOverNaN() {
        for (GemmVariant v : NARROW) {
            SplittableRandom rnd = new SplittableRandom(5);
            Shape s = new Shape(v, Transpose.NO_TRANS, Transpose.NO_TRANS, 33, 17, 9, 2, 2, 2, 0, 0, 0);
            // NaN where C is a float type; for I32 garbage, which must not matter either.
            Run r = s.run(x -> rnd.nextInt(7) - 3, x -> rnd.nextInt(7) - 3, x -> v.output() == DType.I32 ? rnd.nextInt() : Double.NaN);
            r.assertExact(s + "");
        }
    }

    @Test
    void kZeroScalesCByBetaAndBetaZeroWritesPlusZero() {
        for (GemmVariant v : NARROW) {
            boolean i8 = v.input() == DType.I8;
            SplittableRandom rnd = new SplittableRandom(6);
            Shape scale = new Shape(v, Transpose.NO_TRANS, Transpose.TRANS, 13, 11, 0, 2, 2, 1, i8 ? -3 : 0.75, 0, 0);
            // Halves: beta·c stays exact in F32 whatever C's type, so only the store rounds.
            scale.run(x -> 0, x -> 0, x -> i8 ? rnd.nextInt() : (rnd.nextInt(401) - 200) * 0.5).assertExact(scale + "");
            Shape zero = new Shape(v, Transpose.NO_TRANS, Transpose.TRANS, 13, 11, 0, 2, 2, 1, 0, 0, 0);
            Run r = zero.run(x -> 0, x -> 0, x -> i8 ? rnd.nextInt() : Double.NaN);
            r.assertExact(zero + "");
        }
    }

    @Test
    void everyTunableShapeOfTheKernelIsExactForEveryPair() {
        // The defaults run in every other test here; these are the scalar (CUDA's) path, the widest
        // vectors, an odd tile and unroll, and local-memory staging with stages ending mid-panel.
        List<GemmParameters> shapes = List.of(
                new GemmParameters(1, 1, 1, 1, 1, 0, 32),
                new GemmParameters(16, 2, 8, 2, 1, 0, 32),
                new GemmParameters(8, 3, 5, 3, 1, 0, 32),
                new GemmParameters(2, 1, 6, 2, 16, 1, 7));
        for (GemmVariant v : NARROW) {
            boolean i8 = v.input() == DType.I8;
            for (GemmParameters p : shapes) {
                try (OpenClProgram program = device.buildGemm(v, p)) {
                    OpenClDevice.Gemm gemm = new OpenClDevice.Gemm(program, p, "test");
                    SplittableRandom rnd = new SplittableRandom(8);
                    Shape s = new Shape(v, Transpose.TRANS, Transpose.NO_TRANS, 77, 53, 41, 3, 2, i8 ? -2 : 1, i8 ? 3 : 0.5, i8 ? -3 : 0, i8 ? 4 : 0);
                    s.run(gemm, x -> rnd.nextInt(5) - 2, x -> rnd.nextInt(5) - 2, x -> 2 * (rnd.nextInt(9) - 4)).assertExact(s + " " + p);
                }
            }
        }
    }

    @Test
    void rowMajorCallsThroughTheApiAgreeWithTheReference() {
        // The API turns row-major into column-major (A and B and their zero points swap): the
        // device must see the swapped pair right. C = A·B with A 2×3 and B 3×2, row-major.
        try (KernelBridge bridge = KernelBridge.open(config())) {
            Device d = bridge.device("opencl:0");
            try (DeviceBuffer a = bridge.allocate(d, DType.I8, 6).copyFrom(new byte[] {1, 2, 3, 4, 5, 6});
                 DeviceBuffer b = bridge.allocate(d, DType.I8, 6).copyFrom(new byte[] {7, 8, 9, 10, 11, 12});
                 DeviceBuffer c = bridge.allocate(d, DType.I32, 4)) {
                bridge.gemm(GemmOp.builder().layout(Layout.ROW_MAJOR).shape(2, 2, 3).a(a).b(b).beta(0).c(c).zeroPoints(1, 7).build());
                // (A − 1)(B − 7) = [[0 1 2] [3 4 5]] · [[0 1] [2 3] [4 5]]
                assertArrayEquals(new int[] {10, 13, 28, 40}, c.toIntArray());
            }
            try (DeviceBuffer a = bridge.allocate(d, DType.BF16, 6).copyFrom(new float[] {1, 2, 3, 4, 5, 6});
                 DeviceBuffer b = bridge.allocate(d, DType.BF16, 6).copyFrom(new float[] {0.5f, -1, 2, 0.25f, -3, 1});
                 DeviceBuffer c = bridge.allocate(d, DType.F32, 4).copyFrom(new float[] {1, 1, 1, 1})) {
                bridge.gemm(GemmOp.builder().layout(Layout.ROW_MAJOR).shape(2, 2, 3).alpha(2).a(a).b(b).beta(-1).c(c).build());
                // 2·[[−4.5 2.5] [−6 3.25]] − 1
                assertArrayEquals(new float[] {-10, 4, -13, 5.5f}, c.toFloatArray());
            }
        }
    }

    /**
     * One strided-batched call: op(A) m×k, op(B) k×n, C m×n; every operand starts {@code pad}
     * elements in, has {@code pad} extra rows in its leading dimension and {@code pad} elements
     * between batch items. Padding is filled with NaN (A, B: a read of it would show) or a sentinel
     * (C: must survive).
     */
    record Shape(GemmVariant v, Transpose ta, Transpose tb, int m, int n, int k, int pad, int batch,
                 double alpha, double beta, int za, int zb) {
        int rowsA() { return ta == Transpose.NO_TRANS ? m : k; }
        int colsA() { return ta == Transpose.NO_TRANS ? k : m; }
        int rowsB() { return tb == Transpose.NO_TRANS ? k : n; }
        int colsB() { return tb == Transpose.NO_TRANS ? n : k; }
        long lda() { return Math.max(1, rowsA() + pad); }
        long ldb() { return Math.max(1, rowsB() + pad); }
        long ldc() { return m + pad; }
        long strideA() { return lda() * colsA() + pad; }
        long strideB() { return ldb() * colsB() + pad; }
        long strideC() { return ldc() * n + pad; }
        long offA() { return pad; }
        long offB() { return pad; }
        long offC() { return pad; }

        Run run(IntToDoubleFunction a, IntToDoubleFunction b, IntToDoubleFunction c) {
            return run(null, a, b, c);
        }

        /** Runs on the device (with {@code gemm}'s program, or the device's own when null); values by element index. */
        Run run(OpenClDevice.Gemm gemm, IntToDoubleFunction a, IntToDoubleFunction b, IntToDoubleFunction c) {
            DType in = v.input(), out = v.output();
            double[] av = fill(offA() + strideA() * batch, offA(), lda(), rowsA(), colsA(), strideA(), a, padding(in));
            double[] bv = fill(offB() + strideB() * batch, offB(), ldb(), rowsB(), colsB(), strideB(), b, padding(in));
            double[] cv = fill(offC() + strideC() * batch, offC(), ldc(), m, n, strideC(), c, out == DType.I32 ? 0x5EED : -12345);
            BackendBuffer ba = device.allocate(in, av.length), bb = device.allocate(in, bv.length), bc = device.allocate(out, cv.length);
            try {
                upload(ba, in, av);
                upload(bb, in, bv);
                upload(bc, out, cv);
                GemmCall call = new GemmCall(out, ta, tb, m, n, k, alpha, ba, offA(), lda(), strideA(), bb, offB(), ldb(), strideB(),
                        beta, bc, offC(), ldc(), strideC(), batch, in, za, zb);
                if (gemm == null) {
                    device.gemm(call);
                } else {
                    device.lock().lock();
                    try {
                        GemmLauncher.run(device, gemm, call);
                    } finally {
                        device.lock().unlock();
                    }
                }
                return new Run(this, stored(in, av), stored(in, bv), stored(out, cv), download(bc, out, cv.length));
            } finally {
                ba.release();
                bb.release();
                bc.release();
            }
        }

        /** Outside the footprint of A and B: NaN for the float types, a value that changes any sum for I8. */
        private static double padding(DType t) {
            return t == DType.I8 ? 127 : Double.NaN;
        }

        private static double[] fill(long size, long off, long ld, int rows, int cols, long stride, IntToDoubleFunction f, double pad) {
            double[] x = new double[(int) size];
            java.util.Arrays.fill(x, pad);
            int count = 0;
            for (int item = 0; item < (int) (size - off) / stride; item++) {
                for (int j = 0; j < cols; j++) {
                    for (int i = 0; i < rows; i++) {
                        x[(int) (off + item * stride + i + j * ld)] = f.applyAsDouble(count++);
                    }
                }
            }
            return x;
        }

        @Override
        public String toString() {
            return v + " " + ta.name().charAt(0) + tb.name().charAt(0) + " " + m + "x" + n + "x" + k + " pad " + pad + " batch " + batch
                    + " alpha " + alpha + " beta " + beta + (za != 0 || zb != 0 ? " zero points " + za + "," + zb : "");
        }
    }

    /** The values the device saw (each rounded to its type) and C's element values and bits afterwards. */
    record Run(Shape s, double[] a, double[] b, double[] c0, double[] got) {
        /** Every element of C equals the exact result rounded once, bit for bit; padding is untouched. */
        void assertExact(String what) {
            DType out = s.v().output();
            for (int i = 0; i < got.length; i++) {
                long want = bits(out, expectedExact(i)), have = bits(out, got[i]);
                if (want != have) {
                    fail(what + ": element " + i + " is " + got[i] + " (bits " + Long.toHexString(have) + "), want "
                            + expectedExact(i) + " (bits " + Long.toHexString(want) + ")");
                }
            }
        }

        /** Every element of C within the documented bound of the exact result; padding untouched. */
        void assertWithinBound(String what) {
            DType out = s.v().output();
            double u = out.unitRoundoff(), tiny = out == DType.F16 ? 0x1p-25 : out == DType.BF16 ? 0x1p-134 : 0x1p-150;
            for (int i = 0; i < got.length; i++) {
                double[] exact = reference(i);
                if (exact == null) {
                    assertEquals(bits(out, c0[i]), bits(out, got[i]), what + ": padding element " + i + " changed");
                    continue;
                }
                double bound = 2.0 * (s.k() + 2) * 0x1p-24 * exact[1] + u * Math.abs(exact[0]) + tiny;
                if (!(Math.abs(got[i] - exact[0]) <= bound)) {
                    fail(what + ": element " + i + " is " + got[i] + ", exact " + exact[0] + ", bound " + bound);
                }
            }
        }

        /** The exact result of element {@code i} rounded once to C's type (padding: its old value). */
        private double expectedExact(int i) {
            DType out = s.v().output();
            if (out == DType.I32) {
                int[] at = position(i);
                if (at == null) {
                    return c0[i];
                }
                int sum = 0;
                for (int p = 0; p < s.k(); p++) {
                    sum += ((int) a[index(at[0], at[1], p, true)] - s.za()) * ((int) b[index(at[0], at[2], p, false)] - s.zb());
                }
                int alpha = (int) s.alpha(), beta = (int) s.beta();
                return alpha * sum + (beta == 0 ? 0 : beta * (int) c0[i]);
            }
            double[] exact = reference(i);
            if (exact == null) {
                return c0[i];
            }
            assertEquals(exact[0], (double) (float) exact[0], "test data must be exact in F32: element " + i);
            return NarrowFloat.round(out, (float) exact[0]);
        }

        /** {exact value, |alpha|·Σ|a||b| + |beta·c|} of element {@code i} of C, or null outside the footprint. */
        private double[] reference(int i) {
            int[] at = position(i);
            if (at == null) {
                return null;
            }
            double sum = 0, abs = 0;
            for (int p = 0; p < s.k(); p++) {
                double x = a[index(at[0], at[1], p, true)], y = b[index(at[0], at[2], p, false)];
                sum += x * y;
                abs += Math.abs(x * y);
            }
            double scaled = s.alpha() * sum, old = s.beta() == 0 ? 0 : s.beta() * c0[i];
            return new double[] {scaled + old, Math.abs(s.alpha()) * abs + Math.abs(old)};
        }

        /** {item, row, column} of C element {@code i}, or null when it is padding. */
        private int[] position(int i) {
            long rel = i - s.offC();
            if (rel < 0) {
                return null;
            }
            long item = rel / s.strideC(), in = rel % s.strideC();
            long row = in % s.ldc(), col = in / s.ldc();
            return item < s.batch() && row < s.m() && col < s.n() ? new int[] {(int) item, (int) row, (int) col} : null;
        }

        /** Index of op(A)(row, p) (A) or op(B)(p, col) (B) in batch item {@code item}. */
        private int index(int item, int rowOrCol, int p, boolean isA) {
            if (isA) {
                long base = s.offA() + item * s.strideA();
                return (int) (s.ta() == Transpose.NO_TRANS ? base + rowOrCol + p * s.lda() : base + p + rowOrCol * s.lda());
            }
            long base = s.offB() + item * s.strideB();
            return (int) (s.tb() == Transpose.NO_TRANS ? base + p + rowOrCol * s.ldb() : base + rowOrCol + p * s.ldb());
        }
    }

    // --- element encoding: each value rounded to its type as the device stores it ---

    private static void upload(BackendBuffer buffer, DType t, double[] values) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(values.length * (long) t.byteSize(), 8);
            for (int i = 0; i < values.length; i++) {
                switch (t) {
                    case F32 -> s.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) values[i]);
                    case BF16 -> s.setAtIndex(ValueLayout.JAVA_SHORT, i, NarrowFloat.toBf16((float) values[i]));
                    case F16 -> s.setAtIndex(ValueLayout.JAVA_SHORT, i, NarrowFloat.toF16((float) values[i]));
                    case I8 -> s.set(ValueLayout.JAVA_BYTE, i, (byte) values[i]);
                    case I32 -> s.setAtIndex(ValueLayout.JAVA_INT, i, (int) (long) values[i]);
                    default -> throw new IllegalArgumentException(t.label());
                }
            }
            buffer.copyIn(0, s);
        }
    }

    private static double[] download(BackendBuffer buffer, DType t, int count) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(count * (long) t.byteSize(), 8);
            buffer.copyOut(0, s);
            double[] out = new double[count];
            for (int i = 0; i < count; i++) {
                out[i] = switch (t) {
                    case F32 -> s.getAtIndex(ValueLayout.JAVA_FLOAT, i);
                    case BF16 -> NarrowFloat.fromBf16(s.getAtIndex(ValueLayout.JAVA_SHORT, i));
                    case F16 -> NarrowFloat.fromF16(s.getAtIndex(ValueLayout.JAVA_SHORT, i));
                    case I8 -> s.get(ValueLayout.JAVA_BYTE, i);
                    case I32 -> s.getAtIndex(ValueLayout.JAVA_INT, i);
                    default -> throw new IllegalArgumentException(t.label());
                };
            }
            return out;
        }
    }

    /** The values as stored in type {@code t}. */
    private static double[] stored(DType t, double[] values) {
        double[] out = new double[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = switch (t) {
                case I8 -> (byte) values[i];
                case I32 -> (int) (long) values[i];
                default -> NarrowFloat.round(t, (float) values[i]);
            };
        }
        return out;
    }

    /** The stored bits of {@code value} in C's type: compares NaN, −0 and +0 exactly. */
    private static long bits(DType t, double value) {
        return switch (t) {
            case F32 -> Float.floatToRawIntBits((float) value);
            case BF16 -> NarrowFloat.toBf16((float) value) & 0xffff;
            case F16 -> NarrowFloat.toF16((float) value) & 0xffff;
            case I32 -> (int) (long) value;
            default -> throw new IllegalArgumentException(t.label());
        };
    }
}
