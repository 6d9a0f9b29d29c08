package dev.kernelbridge.tck;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.kernelbridge.Communicator;
import dev.kernelbridge.DType;
import dev.kernelbridge.Device;
import dev.kernelbridge.DeviceBuffer;
import dev.kernelbridge.Dispatch;
import dev.kernelbridge.GemmOp;
import dev.kernelbridge.Layout;
import dev.kernelbridge.NarrowFloat;
import dev.kernelbridge.ReduceOp;
import dev.kernelbridge.Transpose;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The ML types: BF16 and F16 GEMM (into their own type or F32) and I8 → I32 GEMM, their
 * conversions, and BF16/F16/I32 collectives. A device that does not declare a type has that type's
 * cases reported skipped.
 *
 * <p>Exact cases (small integers and powers of two, whose products and sums every order of
 * summation gives exactly) must match the host bitwise, on the device and split across every device
 * of the bridge. Random cases must lie within the bound of F32 accumulation plus one output
 * rounding: |C − C*| ≤ 2·(k+2)·2⁻²⁴·(|α|·Σ|a||b| + |βc|) + u_C·|C*| (u_C = 2⁻⁸ for BF16, 2⁻¹¹ for F16,
 * 0 for F32): the first term is the classic dot-product bound in F32 with a margin of two for
 * blocked summation and the α/β updates; the second, the single rounding of C to its type.
 * I8 is exact, wrapping modulo 2³² like every integer GEMM.
 */
public interface DTypeConformance extends KitContext {
    double U32 = 0x1p-24;

    /** Shape, types and scalars of one typed case; ld = tight + pad, every operand starting at {@code offset}. */
    record TypedCase(DType in, DType out, Layout layout, Transpose ta, Transpose tb, int m, int n, int k,
                     double alpha, double beta, int pad, int offset, int zeroA, int zeroB) {
        int rowsA() { return ta == Transpose.NO_TRANS ? m : k; }
        int colsA() { return ta == Transpose.NO_TRANS ? k : m; }
        int rowsB() { return tb == Transpose.NO_TRANS ? k : n; }
        int colsB() { return tb == Transpose.NO_TRANS ? n : k; }
        long ld(int rows, int cols) { return Math.max(1, layout == Layout.ROW_MAJOR ? cols : rows) + pad; }

        /** Index of stored element (r, c) of a rows×cols matrix with leading dimension ld. */
        long at(int r, int c, long ld) { return offset + (layout == Layout.ROW_MAJOR ? r * ld + c : c * ld + r); }

        int length(int rows, int cols) {
            long ld = ld(rows, cols);
            return rows == 0 || cols == 0 ? offset : (int) (at(rows - 1, cols - 1, ld) + 1);
        }

        @Override
        public String toString() {
            return in.label() + "->" + out.label() + " " + layout + " " + ta + "/" + tb + " " + m + "x" + n + "x" + k
                    + " alpha=" + alpha + " beta=" + beta + " pad=" + pad + " offset=" + offset
                    + (zeroA != 0 || zeroB != 0 ? " zero points " + zeroA + "/" + zeroB : "");
        }
    }

    // ---------------------------------------------------------------- conversions

    @Tag("R14")
    @ParameterizedTest(name = "{0}")
    @EnumSource(names = {"BF16", "F16"})
    @Tag("dtypes")
    default void narrowFloatsRoundToNearestEvenKeepNaNInfAndSubnormals(DType t) {
        requireDeclared(t);
        float min = t == DType.BF16 ? Float.MIN_VALUE * (1 << 16) : 0x1p-24f; // smallest subnormal of the type
        float max = t == DType.BF16 ? Float.intBitsToFloat(0x7f7f0000) : 65504f;
        float one = 1f, ulp = (float) (2 * t.unitRoundoff());
        float[] in = {0f, -0f, one, one + ulp / 2, one + 1.5f * ulp, one + ulp / 2 + ulp / 8, -(one + ulp / 2),
            Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, min, 3 * min, min / 2, max, max * 1.01f, -max * 1.01f,
            Float.MAX_VALUE};
        float[] want = {0f, -0f, one, one, one + 2 * ulp, one + ulp, -one,
            Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, min, 3 * min, 0f, max, Float.POSITIVE_INFINITY,
            Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY};
        try (DeviceBuffer buf = bridge().allocate(device(), t, in.length)) {
            float[] got = buf.copyFrom(in).toFloatArray();
            for (int i = 0; i < in.length; i++) {
                assertEquals(Float.floatToIntBits(want[i]), Float.floatToIntBits(got[i]),
                        t.label() + " of " + in[i] + " must be " + want[i] + ", got " + got[i]);
            }
            short[] bits = buf.copyTo(new short[in.length]);
            for (int i = 0; i < in.length; i++) {
                short expected = t == DType.BF16 ? NarrowFloat.toBf16(in[i]) : NarrowFloat.toF16(in[i]);
                assertEquals(expected, bits[i], "raw bits of " + in[i]);
            }
        }
    }

    @Test
    @Tag("dtypes")
    default void typedArraysMustMatchTheBufferType() {
        requireDeclared(DType.BF16);
        try (DeviceBuffer buf = bridge().allocate(device(), DType.BF16, 4)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> buf.copyFrom(new byte[4]));
            assertTrue(e.getMessage().contains("byte[]") && e.getMessage().contains("bf16"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> buf.copyFrom(new double[4]));
            assertThrows(IllegalArgumentException.class, buf::toIntArray);
        }
    }

    // ---------------------------------------------------------------- GEMM

    @Tag("R12")
    @ParameterizedTest(name = "{0}")
    @EnumSource(names = {"BF16", "F16", "I8"})
    @Tag("dtypes")
    default void exactCasesAreBitwiseOnTheDevice(DType in) {
        requireDeclared(in);
        SplittableRandom rnd = new SplittableRandom(14);
        for (DType out : outputs(in)) {
            for (Layout layout : Layout.values()) {
                for (Transpose ta : Transpose.values()) {
                    for (Transpose tb : Transpose.values()) {
                        for (int[] s : new int[][] {{1, 1, 1}, {3, 5, 2}, {17, 9, 33}, {33, 31, 17}, {65, 64, 63}}) {
                            for (double[] ab : exactScalars(in, out)) {
                                TypedCase c = new TypedCase(in, out, layout, ta, tb, s[0], s[1], s[2], ab[0], ab[1], 1, 2, 0, 0);
                                check(c, exactData(c, rnd), true, Dispatch.pinned(device()));
                            }
                        }
                    }
                }
            }
        }
    }

    @Tag("R12")
    @ParameterizedTest(name = "{0}")
    @EnumSource(names = {"BF16", "F16", "I8"})
    @Tag("dtypes")
    default void exactCasesAreBitwiseSplitAcrossDevices(DType in) {
        requireDeclared(in);
        SplittableRandom rnd = new SplittableRandom(15);
        for (DType out : outputs(in)) {
            TypedCase c = new TypedCase(in, out, Layout.ROW_MAJOR, Transpose.NO_TRANS, Transpose.TRANS, 190, 170, 40,
                    exactScalars(in, out).get(1)[0], exactScalars(in, out).get(1)[1], 0, 0, 0, 0);
            check(c, exactData(c, rnd), true, Dispatch.split().alwaysSplit());
        }
    }

    @Tag("R15")
    @ParameterizedTest(name = "{0}")
    @EnumSource(names = {"BF16", "F16", "I8"})
    @Tag("dtypes")
    default void randomCasesStayWithinTheStatedBound(DType in) {
        requireDeclared(in);
        SplittableRandom rnd = new SplittableRandom(16);
        for (DType out : outputs(in)) {
            for (int[] s : new int[][] {{1, 1, 700}, {64, 48, 300}, {129, 65, 530}, {200, 8, 1}}) {
                for (Layout layout : Layout.values()) {
                    boolean ints = in == DType.I8;
                    TypedCase c = new TypedCase(in, out, layout, Transpose.TRANS, Transpose.NO_TRANS, s[0], s[1], s[2],
                            ints ? 3 : 0.75, ints ? -2 : 0.5, 3, 1, 0, 0);
                    check(c, randomData(c, rnd), ints, Dispatch.pinned(device()));
                }
            }
        }
    }

    @Tag("R03")
    @ParameterizedTest(name = "{0}")
    @EnumSource(names = {"BF16", "F16", "I8"})
    @Tag("dtypes")
    default void betaZeroOverwritesNaNAndKZeroOnlyScales(DType in) {
        requireDeclared(in);
        SplittableRandom rnd = new SplittableRandom(17);
        for (DType out : outputs(in)) {
            TypedCase c = new TypedCase(in, out, Layout.COLUMN_MAJOR, Transpose.NO_TRANS, Transpose.NO_TRANS, 20, 13, 7, 1, 0, 0, 0, 0, 0);
            Data d = exactData(c, rnd);
            if (out.isFloatingPoint()) {
                java.util.Arrays.fill(d.c, Double.NaN);
            }
            check(c, d, true, Dispatch.pinned(device()));
            TypedCase scaleOnly = new TypedCase(in, out, Layout.COLUMN_MAJOR, Transpose.NO_TRANS, Transpose.NO_TRANS, 20, 13, 0, 1, -2, 0, 0, 0, 0);
            check(scaleOnly, exactData(scaleOnly, rnd), true, Dispatch.pinned(device()));
        }
    }

    @Tag("R15")
    @ParameterizedTest(name = "{0}")
    @EnumSource(names = {"BF16", "F16"})
    @Tag("dtypes")
    default void aNarrowCIsRoundedOnceHoweverDeepK(DType t) {
        requireDeclared(t);
        // 2^p + 1 ones, then 2^p − 56 minus-ones (p: the type's significant bits): the exact result is
        // 57, but a partial sum rounded to the type on the way (2^p + 1 is not representable) gives 56.
        // The zeros between them are longer than any k slice (1024), so some slice ends there.
        int p = t == DType.BF16 ? 8 : 11, ones = (1 << p) + 1, minus = (1 << p) - 56, k = ones + 1100 + minus;
        TypedCase c = new TypedCase(t, t, Layout.ROW_MAJOR, Transpose.NO_TRANS, Transpose.NO_TRANS, 2, 3, k, 1, 0, 0, 0, 0, 0);
        double[] b = new double[k * 3];
        for (int q = 0; q < k; q++) {
            double v = q < ones ? 1 : q >= k - minus ? -1 : 0;
            for (int j = 0; j < 3; j++) {
                b[q * 3 + j] = v;
            }
        }
        check(c, new Data(fill(2 * k, 1), b, new double[6]), true, Dispatch.pinned(device()));
    }

    @Test
    @Tag("dtypes")
    default void int8ExtremesAreExactAndWrapLikeI32() {
        requireDeclared(DType.I8);
        for (int k : new int[] {1, 255, 256, 257, 1024, 2000}) {
            TypedCase c = new TypedCase(DType.I8, DType.I32, Layout.ROW_MAJOR, Transpose.NO_TRANS, Transpose.TRANS, 3, 37, k, 1, 0, 0, 0, 0, 0);
            Data d = new Data(fill(c.length(c.rowsA(), c.colsA()), -128), fill(c.length(c.rowsB(), c.colsB()), -128),
                    new double[c.length(c.m, c.n)]);
            check(c, d, true, Dispatch.pinned(device()));
        }
        // Odd products (−127·−127 = 16129) whose running sum passes 2^24: exact only if nothing rounds on the way.
        TypedCase odd = new TypedCase(DType.I8, DType.I32, Layout.COLUMN_MAJOR, Transpose.NO_TRANS, Transpose.NO_TRANS, 5, 3, 2001, 1, 0, 0, 0, 0, 0);
        check(odd, new Data(fill(odd.length(5, 2001), -127), fill(odd.length(2001, 3), -127), new double[odd.length(5, 3)]), true,
                Dispatch.pinned(device()));
        // 16384·2000·2^8 passes 2^31: the result wraps, as in C's int32 arithmetic.
        TypedCase wrap = new TypedCase(DType.I8, DType.I32, Layout.ROW_MAJOR, Transpose.NO_TRANS, Transpose.NO_TRANS, 2, 2, 2000, 256, 1, 0, 0, 0, 0);
        Data d = new Data(fill(wrap.length(2, 2000), -128), fill(wrap.length(2000, 2), 127), fill(wrap.length(2, 2), Integer.MAX_VALUE));
        check(wrap, d, true, Dispatch.pinned(device()));
    }

    @Test
    @Tag("dtypes")
    default void int8ZeroPointsShiftBothOperands() {
        requireDeclared(DType.I8);
        SplittableRandom rnd = new SplittableRandom(18);
        for (int[] z : new int[][] {{-128, 0}, {127, -128}, {3, 5}}) {
            for (Layout layout : Layout.values()) {
                TypedCase c = new TypedCase(DType.I8, DType.I32, layout, Transpose.TRANS, Transpose.NO_TRANS, 33, 19, 300, 1, 1, 1, 1, z[0], z[1]);
                check(c, randomData(c, rnd), true, Dispatch.pinned(device()));
            }
        }
    }

    @Tag("R01")
    @Test
    @Tag("gemm-arguments")
    default void typeMismatchesAreRejectedBeforeAnythingIsWritten() {
        requireDeclared(DType.BF16);
        requireDeclared(DType.I8);
        try (DeviceBuffer bf = bridge().allocate(device(), DType.BF16, 4);
             DeviceBuffer f32 = bridge().allocate(device(), DType.F32, 4).copyFrom(new float[] {7, 7, 7, 7});
             DeviceBuffer f64 = bridge().allocate(device(), DType.F64, 4);
             DeviceBuffer i8 = bridge().allocate(device(), DType.I8, 4);
             DeviceBuffer i32 = bridge().allocate(device(), DType.I32, 4).copyFrom(new int[] {7, 7, 7, 7})) {
            expectRejected("b must have the element type of a (bf16), got f32", GemmOp.of(Layout.ROW_MAJOR, 2, 2, 2, 1, bf, f32, 0, f32));
            expectRejected("c must be bf16 or f32 for bf16 inputs, got f64", GemmOp.of(Layout.ROW_MAJOR, 2, 2, 2, 1, bf, bf, 0, f64));
            expectRejected("c must be i32 for i8 inputs, got f32", GemmOp.of(Layout.ROW_MAJOR, 2, 2, 2, 1, i8, i8, 0, f32));
            expectRejected("alpha must be an integer", GemmOp.of(Layout.ROW_MAJOR, 2, 2, 2, 0.5, i8, i8, 0, i32));
            expectRejected("a must be a GEMM input type", GemmOp.of(Layout.ROW_MAJOR, 2, 2, 2, 1, i32, i32, 0, i32));
            expectRejected("zeroPointA must be in [-128, 127]", GemmOp.builder().shape(2, 2, 2).a(i8).b(i8).c(i32).zeroPoints(200, 0).build());
            expectRejected("zero points need i8 inputs", GemmOp.builder().shape(2, 2, 2).a(bf).b(bf).c(f32).zeroPoints(1, 0).build());
            assertArrayEquals(new float[] {7, 7, 7, 7}, f32.toFloatArray(), "a rejected call must not write C");
            assertArrayEquals(new int[] {7, 7, 7, 7}, i32.toIntArray(), "a rejected call must not write C");
        }
    }

    private void expectRejected(String message, GemmOp op) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> bridge().gemm(op));
        assertTrue(e.getMessage().contains(message), "expected '" + message + "', got: " + e.getMessage());
    }

    // ---------------------------------------------------------------- collectives

    @Tag("R16")
    @ParameterizedTest(name = "{0}")
    @EnumSource(names = {"BF16", "F16", "I32"})
    @Tag("collectives")
    default void typedAllReduceFoldsInRankOrderAndIsTheSameAtEverySize(DType t) {
        requireDeclared(t);
        List<Device> devices = rankDevices().stream().map(id -> bridge().device(id)).toList();
        List<Device> ranks = devices.size() >= 3 ? devices : List.of(devices.get(0), devices.get(0), devices.get(0));
        List<ReduceOp> ops = t == DType.I32 ? List.of(ReduceOp.SUM, ReduceOp.MIN, ReduceOp.MAX) : List.of(ReduceOp.SUM, ReduceOp.AVG, ReduceOp.MAX);
        List<Communicator> comms = bridge().communicators(ranks);
        try {
            for (ReduceOp op : ops) {
                double[] firstTen = null;
                for (int count : new int[] {10, 4099, 70001}) {
                    double[] got = allReduce(comms, t, op, count);
                    double[] head = java.util.Arrays.copyOf(got, 10);
                    if (firstTen != null) {
                        assertArrayEquals(firstTen, head, t.label() + " " + op + ": the same elements must not change with the message size");
                    }
                    firstTen = head;
                }
            }
        } finally {
            comms.forEach(Communicator::close);
        }
    }

    @Test
    @Tag("collectives")
    default void int32AverageIsRejected() {
        requireDeclared(DType.I32);
        List<Communicator> comms = bridge().communicators(List.of(device(), device()));
        try (DeviceBuffer b = bridge().allocate(device(), DType.I32, 4)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> comms.get(0).allReduce(b, b, 4, ReduceOp.AVG));
            assertTrue(e.getMessage().contains("op") && e.getMessage().contains("i32"), e.getMessage());
        } finally {
            comms.forEach(Communicator::close);
        }
    }

    /** Runs one all-reduce on every rank and checks every rank against the rank-order F32 (or i32) fold; returns rank 0's result. */
    private double[] allReduce(List<Communicator> comms, DType t, ReduceOp op, int count) {
        int size = comms.size();
        double[][] inputs = new double[size][count];
        for (int r = 0; r < size; r++) {
            for (int i = 0; i < count; i++) {
                // Element i gets the same inputs at every size; values that round differently in other orders.
                long h = (i % 10) * 7919L + r * 104729L + i / 10 * 31L;
                inputs[r][i] = t == DType.I32 ? (int) (h * 2654435761L) : NarrowFloat.round(t, (float) (((h % 2001) - 1000) / 997.0 * (1 + r * 1e-3)));
            }
        }
        List<DeviceBuffer> sends = new ArrayList<>(), recvs = new ArrayList<>();
        try {
            for (int r = 0; r < size; r++) {
                sends.add(upload(comms.get(r).device(), t, inputs[r]));
                recvs.add(bridge().allocate(comms.get(r).device(), t, count));
            }
            CompletableFuture<?>[] all = new CompletableFuture<?>[size];
            for (int r = 0; r < size; r++) {
                all[r] = comms.get(r).allReduceAsync(sends.get(r), recvs.get(r), count, op, java.time.Duration.ofSeconds(60));
            }
            CompletableFuture.allOf(all).join();
            double[] want = new double[count];
            for (int i = 0; i < count; i++) {
                want[i] = fold(t, op, inputs, i);
            }
            double[] first = null;
            for (int r = 0; r < size; r++) {
                double[] got = download(recvs.get(r), t, 0, count);
                for (int i = 0; i < count; i++) {
                    if (Double.doubleToLongBits(got[i]) != Double.doubleToLongBits(want[i])) {
                        fail(t.label() + " " + op + " rank " + r + " element " + i + " of " + count + ": " + got[i] + ", rank-order fold gives " + want[i]);
                    }
                }
                first = first == null ? got : first;
            }
            return first;
        } finally {
            sends.forEach(DeviceBuffer::close);
            recvs.forEach(DeviceBuffer::close);
        }
    }

    private static double fold(DType t, ReduceOp op, double[][] inputs, int i) {
        if (t == DType.I32) {
            int acc = (int) inputs[0][i];
            for (int r = 1; r < inputs.length; r++) {
                int x = (int) inputs[r][i];
                acc = switch (op) {
                    case SUM -> acc + x;
                    case PROD -> acc * x;
                    case MIN -> Math.min(acc, x);
                    case MAX -> Math.max(acc, x);
                    case AVG -> throw new IllegalArgumentException();
                };
            }
            return acc;
        }
        float acc = (float) inputs[0][i];
        for (int r = 1; r < inputs.length; r++) {
            float x = (float) inputs[r][i];
            acc = switch (op) {
                case SUM, AVG -> acc + x;
                case PROD -> acc * x;
                case MIN -> Math.min(acc, x);
                case MAX -> Math.max(acc, x);
            };
        }
        if (op == ReduceOp.AVG) {
            acc /= inputs.length;
        }
        return NarrowFloat.round(t, acc);
    }

    // ---------------------------------------------------------------- the machinery

    /** Logical contents of A, B and C (including padding), exactly representable in their types. */
    record Data(double[] a, double[] b, double[] c) { }

    private static List<DType> outputs(DType in) {
        return switch (in) {
            case BF16 -> List.of(DType.F32, DType.BF16);
            case F16 -> List.of(DType.F32, DType.F16);
            case I8 -> List.of(DType.I32);
            default -> List.of(in);
        };
    }

    /** alpha/beta pairs that keep exact data exact (and a narrow C within its integer range). */
    private static List<double[]> exactScalars(DType in, DType out) {
        if (in == DType.I8) {
            return List.of(new double[] {1, 0}, new double[] {-3, 2}, new double[] {2, 1});
        }
        return List.of(new double[] {1, 0}, new double[] {0.5, -0.5}, new double[] {-1, 1});
    }

    /** Small integers: I8 anywhere in its range; floats in [-2, 2], so |C| stays under 2^8 even in BF16. */
    private static Data exactData(TypedCase c, SplittableRandom rnd) {
        int lo = c.in() == DType.I8 ? -128 : -2, hi = c.in() == DType.I8 ? 128 : 3;
        return new Data(ints(c.length(c.rowsA(), c.colsA()), lo, hi, rnd), ints(c.length(c.rowsB(), c.colsB()), lo, hi, rnd),
                ints(c.length(c.m(), c.n()), -2, 3, rnd));
    }

    private static Data randomData(TypedCase c, SplittableRandom rnd) {
        if (c.in() == DType.I8) {
            return new Data(ints(c.length(c.rowsA(), c.colsA()), -128, 128, rnd), ints(c.length(c.rowsB(), c.colsB()), -128, 128, rnd),
                    ints(c.length(c.m(), c.n()), -1 << 20, 1 << 20, rnd));
        }
        return new Data(uniform(c.length(c.rowsA(), c.colsA()), c.in(), rnd), uniform(c.length(c.rowsB(), c.colsB()), c.in(), rnd),
                uniform(c.length(c.m(), c.n()), c.out(), rnd));
    }

    private static double[] ints(int n, int lo, int hi, SplittableRandom rnd) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = rnd.nextInt(lo, hi);
        }
        return v;
    }

    private static double[] uniform(int n, DType t, SplittableRandom rnd) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = NarrowFloat.round(t, (float) rnd.nextDouble(-1, 1));
        }
        return v;
    }

    private static double[] fill(int n, double value) {
        double[] v = new double[n];
        java.util.Arrays.fill(v, value);
        return v;
    }

    /**
     * Runs the case through {@link GemmOp} on the device (pinned) or through {@link dev.kernelbridge.Blas}
     * with {@code dispatch}, and checks C (bitwise when {@code exact}), C's padding and A and B.
     */
    private void check(TypedCase c, Data d, boolean exact, Dispatch dispatch) {
        double[] want = reference(c, d);
        double[] got;
        if (dispatch.policy() == Dispatch.Policy.SPLIT) {
            got = viaBlas(c, d, dispatch);
        } else {
            try (DeviceBuffer a = upload(device(), c.in(), d.a()); DeviceBuffer b = upload(device(), c.in(), d.b());
                 DeviceBuffer cc = upload(device(), c.out(), d.c())) {
                bridge().gemm(GemmOp.builder().layout(c.layout()).transA(c.ta()).transB(c.tb()).shape(c.m(), c.n(), c.k())
                        .alpha(c.alpha()).beta(c.beta()).a(a, c.offset(), c.ld(c.rowsA(), c.colsA())).b(b, c.offset(), c.ld(c.rowsB(), c.colsB()))
                        .c(cc, c.offset(), c.ld(c.m(), c.n())).zeroPoints(c.zeroA(), c.zeroB()).build());
                got = download(cc, c.out(), 0, d.c().length);
                assertArrayEquals(bits(d.a()), bits(download(a, c.in(), 0, d.a().length)), c + ": A changed");
                assertArrayEquals(bits(d.b()), bits(download(b, c.in(), 0, d.b().length)), c + ": B changed");
            }
        }
        long ldc = c.ld(c.m(), c.n());
        boolean[] inC = new boolean[want.length];
        for (int j = 0; j < c.n(); j++) {
            for (int i = 0; i < c.m(); i++) {
                inC[(int) c.at(i, j, ldc)] = true;
            }
        }
        for (int x = 0; x < want.length; x++) {
            if (!inC[x]) {
                if (Double.doubleToLongBits(got[x]) != Double.doubleToLongBits(d.c()[x])) {
                    fail(c + ": element " + x + " outside C changed from " + d.c()[x] + " to " + got[x]);
                }
                continue;
            }
            double bound = exact ? 0 : bound(c, d, x);
            if (!(Double.doubleToLongBits(got[x]) == Double.doubleToLongBits(want[x]) || Math.abs(got[x] - want[x]) <= bound)) {
                fail(c + " on " + (dispatch.policy() == Dispatch.Policy.SPLIT ? "a split" : device().id()) + ": C element " + x
                        + " is " + got[x] + ", expected " + want[x] + (exact ? " exactly" : " within " + bound));
            }
        }
    }

    private double[] viaBlas(TypedCase c, Data d, Dispatch dispatch) {
        try (Arena arena = Arena.ofShared()) {
            MemorySegment a = encode(arena, c.in(), d.a()), b = encode(arena, c.in(), d.b()), cc = encode(arena, c.out(), d.c());
            if (c.zeroA() != 0 || c.zeroB() != 0 || c.offset() != 0) {
                throw new IllegalArgumentException("the Blas cases of the kit start at element 0 without zero points");
            }
            bridge().blas(dispatch).gemm(c.layout(), c.ta(), c.tb(), c.m(), c.n(), c.k(), c.alpha(), c.in(), a, c.ld(c.rowsA(), c.colsA()),
                    b, c.ld(c.rowsB(), c.colsB()), c.beta(), c.out(), cc, c.ld(c.m(), c.n()));
            return decode(c.out(), cc, d.c().length);
        }
    }

    /** C* in exact arithmetic (long for I8, double for floats), then rounded once to C's type. */
    private static double[] reference(TypedCase c, Data d) {
        double[] out = d.c().clone();
        long lda = c.ld(c.rowsA(), c.colsA()), ldb = c.ld(c.rowsB(), c.colsB()), ldc = c.ld(c.m(), c.n());
        for (int i = 0; i < c.m(); i++) {
            for (int j = 0; j < c.n(); j++) {
                int x = (int) c.at(i, j, ldc);
                if (c.in() == DType.I8) {
                    long sum = 0;
                    for (int p = 0; p < c.k(); p++) {
                        sum += (long) (opA(c, d, lda, i, p) - c.zeroA()) * (long) (opB(c, d, ldb, p, j) - c.zeroB());
                    }
                    int old = c.beta() == 0 ? 0 : (int) d.c()[x];
                    out[x] = (int) ((long) c.beta() * old + (long) c.alpha() * (int) sum);
                } else {
                    double sum = 0;
                    for (int p = 0; p < c.k(); p++) {
                        sum += opA(c, d, lda, i, p) * opB(c, d, ldb, p, j);
                    }
                    double v = c.alpha() * sum + (c.beta() == 0 ? 0 : c.beta() * d.c()[x]);
                    out[x] = NarrowFloat.round(c.out(), (float) v);
                }
            }
        }
        return out;
    }

    private static double bound(TypedCase c, Data d, int x) {
        long lda = c.ld(c.rowsA(), c.colsA()), ldb = c.ld(c.rowsB(), c.colsB()), ldc = c.ld(c.m(), c.n());
        long off = x - c.offset();
        int i = (int) (c.layout() == Layout.ROW_MAJOR ? off / ldc : off % ldc), j = (int) (c.layout() == Layout.ROW_MAJOR ? off % ldc : off / ldc);
        double gauge = 0, exact = 0;
        for (int p = 0; p < c.k(); p++) {
            double prod = opA(c, d, lda, i, p) * opB(c, d, ldb, p, j);
            gauge += Math.abs(prod);
            exact += prod;
        }
        double betaC = c.beta() == 0 ? 0 : c.beta() * d.c()[x];
        gauge = Math.abs(c.alpha()) * gauge + Math.abs(betaC);
        double value = Math.abs(c.alpha() * exact + betaC);
        double uOut = c.out() == DType.F32 ? 0 : c.out().unitRoundoff();
        double accumulation = 2.0 * (c.k() + 2) * U32 * gauge;
        return accumulation + uOut * (value + accumulation) + Float.MIN_NORMAL;
    }

    private static double opA(TypedCase c, Data d, long lda, int i, int p) {
        return c.ta() == Transpose.NO_TRANS ? d.a()[(int) c.at(i, p, lda)] : d.a()[(int) c.at(p, i, lda)];
    }

    private static double opB(TypedCase c, Data d, long ldb, int p, int j) {
        return c.tb() == Transpose.NO_TRANS ? d.b()[(int) c.at(p, j, ldb)] : d.b()[(int) c.at(j, p, ldb)];
    }

    private static long[] bits(double[] v) {
        long[] b = new long[v.length];
        for (int i = 0; i < v.length; i++) {
            b[i] = Double.doubleToLongBits(v[i]);
        }
        return b;
    }

    private DeviceBuffer upload(Device device, DType t, double[] values) {
        DeviceBuffer buf = bridge().allocate(device, t, values.length);
        try (Arena arena = Arena.ofConfined()) {
            return buf.copyFrom(0, encode(arena, t, values));
        } catch (RuntimeException e) {
            buf.close();
            throw e;
        }
    }

    private static double[] download(DeviceBuffer buf, DType t, long index, int n) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate((long) n * t.byteSize());
            buf.copyTo(index, s);
            return decode(t, s, n);
        }
    }

    static MemorySegment encode(Arena arena, DType t, double[] v) {
        MemorySegment s = arena.allocate(Math.max(1, (long) v.length * t.byteSize()));
        for (int i = 0; i < v.length; i++) {
            switch (t) {
                case F32 -> s.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, (float) v[i]);
                case F64 -> s.setAtIndex(ValueLayout.JAVA_DOUBLE_UNALIGNED, i, v[i]);
                case BF16 -> s.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, NarrowFloat.toBf16((float) v[i]));
                case F16 -> s.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, NarrowFloat.toF16((float) v[i]));
                case I8 -> s.set(ValueLayout.JAVA_BYTE, i, (byte) v[i]);
                case I32 -> s.setAtIndex(ValueLayout.JAVA_INT_UNALIGNED, i, (int) v[i]);
            }
        }
        return s.asSlice(0, (long) v.length * t.byteSize());
    }

    static double[] decode(DType t, MemorySegment s, int n) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = switch (t) {
                case F32 -> s.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i);
                case F64 -> s.getAtIndex(ValueLayout.JAVA_DOUBLE_UNALIGNED, i);
                case BF16 -> NarrowFloat.fromBf16(s.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i));
                case F16 -> NarrowFloat.fromF16(s.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i));
                case I8 -> s.get(ValueLayout.JAVA_BYTE, i);
                case I32 -> s.getAtIndex(ValueLayout.JAVA_INT_UNALIGNED, i);
            };
        }
        return v;
    }
}
