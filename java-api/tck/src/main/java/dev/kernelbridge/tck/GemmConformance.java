package dev.kernelbridge.tck;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.kernelbridge.DType;
import dev.kernelbridge.Device;
import dev.kernelbridge.DeviceBuffer;
import dev.kernelbridge.GemmOp;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.Layout;
import dev.kernelbridge.Transpose;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * GEMM through the public API: BLAS semantics over the shared case list, the argument contract,
 * NaN handling, batches, determinism, many callers, 2^31+ indexing (RELIABILITY.md R01–R09, R12,
 * R13, R17). The oracle is {@link Reference}. Mixed into {@link ConformanceKit}.
 */
public interface GemmConformance extends KitContext {
    /** Sizes that hit every remainder of the register tiles and the cache blocks (R03, R06). */
    int[] EDGE_SIZES = {1, 2, 3, 5, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129};

    // ---------------------------------------------------------------- one case, fully checked

    /** A GEMM case: shape, transposes, layout, scalars, extra leading-dimension padding and offsets. */
    public record Case(DType dtype, Layout layout, Transpose ta, Transpose tb, int m, int n, int k,
                       double alpha, double beta, int pad, int offset) {
        int rowsA() { return ta == Transpose.NO_TRANS ? m : k; }
        int colsA() { return ta == Transpose.NO_TRANS ? k : m; }
        int rowsB() { return tb == Transpose.NO_TRANS ? k : n; }
        int colsB() { return tb == Transpose.NO_TRANS ? n : k; }
        long ld(int rows, int cols) { return Math.max(1, layout == Layout.ROW_MAJOR ? cols : rows) + pad; }
        long lda() { return ld(rowsA(), colsA()); }
        long ldb() { return ld(rowsB(), colsB()); }
        long ldc() { return ld(m, n); }
        static int length(long offset, long ld, int rows, int cols, Layout layout) {
            if (rows == 0 || cols == 0) {
                return (int) offset;
            }
            return (int) (offset + (layout == Layout.ROW_MAJOR ? ld * (rows - 1) + cols : ld * (cols - 1) + rows));
        }
        @Override
        public String toString() {
            return dtype.label() + " " + layout + " " + ta + "/" + tb + " " + m + "x" + n + "x" + k + " alpha=" + alpha + " beta=" + beta
                    + " pad=" + pad + " offset=" + offset;
        }
    }

    /** Sentinel for padding and offsets: a NaN with a payload, so any write or read of it shows. */
    static long sentinel(DType dtype) {
        return dtype == DType.F32 ? 0x7fc0dead : 0x7ff80000_0000deadL;
    }

    /**
     * Runs a case with random data in [-1, 1] (C's values from {@code cFill} when given) and
     * padding full of sentinels; checks C against the reference, every padding and offset element
     * of C unchanged, and A and B unchanged.
     */
    default void runCase(Case c, SplittableRandom rnd, long[] cFill) {
        long[] a = matrixBits(c.dtype(), c.offset(), c.lda(), c.rowsA(), c.colsA(), c.layout(), rnd, null);
        long[] b = matrixBits(c.dtype(), c.offset(), c.ldb(), c.rowsB(), c.colsB(), c.layout(), rnd, null);
        long[] c0 = matrixBits(c.dtype(), c.offset(), c.ldc(), c.m(), c.n(), c.layout(), rnd, cFill);
        try (Operand da = Operand.ofBits(bridge(), device(), c.dtype(), a);
             Operand db = Operand.ofBits(bridge(), device(), c.dtype(), b);
             Operand dc = Operand.ofBits(bridge(), device(), c.dtype(), c0)) {
            bridge().gemm(GemmOp.builder().layout(c.layout()).transA(c.ta()).transB(c.tb()).shape(c.m(), c.n(), c.k())
                    .alpha(c.alpha()).beta(c.beta())
                    .a(da.buffer, c.offset(), c.lda()).b(db.buffer, c.offset(), c.ldb()).c(dc.buffer, c.offset(), c.ldc()).build());
            assertEquals(-1, da.firstChange(), () -> c + ": A changed");
            assertEquals(-1, db.firstChange(), () -> c + ": B changed");
            long[] after = dc.downloadBits();
            boolean[] inside = inside(c.offset(), c.ldc(), c.m(), c.n(), c.layout(), after.length);
            for (int i = 0; i < after.length; i++) {
                if (!inside[i] && after[i] != c0[i]) {
                    fail(c + ": C element " + i + " outside the matrix changed");
                }
            }
            Reference.Check check = Reference.check(c.dtype(), c.layout(), c.ta(), c.tb(), c.m(), c.n(), c.k(), c.alpha(), c.beta(),
                    Operand.values(c.dtype(), a), c.offset(), c.lda(), Operand.values(c.dtype(), b), c.offset(), c.ldb(),
                    Operand.values(c.dtype(), c0), Operand.values(c.dtype(), after), c.offset(), c.ldc());
            if (!check.ok()) {
                fail(c + ": " + check.firstProblem());
            }
        }
    }

    /** Bits of a stored matrix: sentinels everywhere, random values (or {@code fill}) at its elements. */
    static long[] matrixBits(DType dtype, long offset, long ld, int rows, int cols, Layout layout, SplittableRandom rnd, long[] fill) {
        int len = Case.length(offset, ld, rows, cols, layout);
        long[] bits = new long[Math.max(len, 1)];
        java.util.Arrays.fill(bits, sentinel(dtype));
        int f = 0;
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                long at = offset + (layout == Layout.ROW_MAJOR ? i * ld + j : i + j * ld);
                bits[(int) at] = fill != null ? fill[f++ % fill.length]
                        : Operand.toBits(dtype, new double[] {rnd.nextDouble(-1, 1)})[0];
            }
        }
        return bits;
    }

    private static boolean[] inside(long offset, long ld, int rows, int cols, Layout layout, int len) {
        boolean[] in = new boolean[len];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                in[(int) (offset + (layout == Layout.ROW_MAJOR ? i * ld + j : i + j * ld))] = true;
            }
        }
        return in;
    }

    // ---------------------------------------------------------------- R06: the semantic sweep

    /** The R06 sweep's grid: every element type, layout and pair of transposes. */
    static Stream<org.junit.jupiter.params.provider.Arguments> sweepCases() {
        List<org.junit.jupiter.params.provider.Arguments> cases = new ArrayList<>();
        for (DType dtype : List.of(DType.F32, DType.F64)) {
            for (Layout layout : Layout.values()) {
                for (Transpose ta : Transpose.values()) {
                    for (Transpose tb : Transpose.values()) {
                        cases.add(org.junit.jupiter.params.provider.Arguments.of(dtype, layout, ta, tb));
                    }
                }
            }
        }
        return cases.stream();
    }

    /** R06: shapes × alpha {0, 1, 0.7, −1} × beta {0, 1, 1.3}, with padding and offsets that vary. */
    @Tag("R05")
    @Tag("R06")
    @Tag("gemm-semantics")
    @ParameterizedTest(name = "{0} {1} {2} {3}")
    @MethodSource("dev.kernelbridge.tck.GemmConformance#sweepCases")
    default void semanticSweep(DType dtype, Layout layout, Transpose ta, Transpose tb) {
        requireDeclared(dtype);
        int[][] shapes = {
            {1, 1, 1}, {2, 3, 5}, {5, 9, 2}, {16, 16, 16}, {17, 15, 31}, {33, 63, 17}, {65, 31, 64}, {64, 65, 63},
            {129, 17, 9}, {9, 129, 33}, {127, 128, 129}, {1, 200, 7}, {200, 1, 7}, {3, 5, 300}, {300, 13, 270}, {530, 40, 20},
        };
        SplittableRandom rnd = new SplittableRandom(dtype.ordinal() * 1000 + layout.ordinal() * 100 + ta.ordinal() * 10 + tb.ordinal());
        int i = 0;
        for (int[] s : shapes) {
            for (double alpha : new double[] {0, 1, 0.7, -1}) {
                for (double beta : new double[] {0, 1, 1.3}) {
                    int pad = new int[] {0, 1, 7, 64}[i % 4];
                    int offset = new int[] {0, 1, 10}[i % 3];
                    i++;
                    runCase(new Case(dtype, layout, ta, tb, s[0], s[1], s[2], alpha, beta, pad, offset), rnd, null);
                }
            }
        }
    }

    /** Shapes larger than the cache blocks, so that k, m and n each cross a block boundary. */
    @Tag("R06")
    @Tag("gemm-semantics")
    @ParameterizedTest(name = "{0}")
    @EnumSource(names = {"F32", "F64"})
    default void crossesCacheBlocks(DType dtype) {
        requireDeclared(dtype);
        SplittableRandom rnd = new SplittableRandom(5);
        runCase(new Case(dtype, Layout.COLUMN_MAJOR, Transpose.NO_TRANS, Transpose.NO_TRANS, 517, 29, 700, 0.7, 1.3, 3, 1), rnd, null);
        runCase(new Case(dtype, Layout.ROW_MAJOR, Transpose.TRANS, Transpose.TRANS, 23, 4111, 19, 1, 0, 0, 0), rnd, null);
    }

    /**
     * The ML-shaped cases the benchmarks time ({@link Cases#ML_QUICK}), checked exactly: small
     * integers (exact in F32 and F64), and every batch item verified in O(m·n) by a random
     * projection, C·x = A·(B·x) for x in {−1, 1}^n.
     */
    @Tag("R12")
    @Tag("gemm-semantics")
    @ParameterizedTest(name = "{0}")
    @EnumSource(names = {"F32", "F64"})
    default void mlShapedCasesAreExact(DType dtype) {
        requireDeclared(dtype);
        SplittableRandom rnd = new SplittableRandom(21);
        for (Cases.GemmShape s : Cases.ML_QUICK) {
            int m = (int) s.m(), n = (int) s.n(), k = (int) s.k(), batch = (int) s.batch();
            double[] a = new double[m * k * batch], b = new double[k * n * batch];
            for (int i = 0; i < a.length; i++) {
                a[i] = rnd.nextInt(-2, 3);
            }
            for (int i = 0; i < b.length; i++) {
                b[i] = rnd.nextInt(-2, 3);
            }
            try (Operand da = Operand.of(bridge(), device(), dtype, a); Operand db = Operand.of(bridge(), device(), dtype, b);
                 Operand dc = Operand.of(bridge(), device(), dtype, new double[m * n * batch])) {
                bridge().gemm(GemmOp.builder().layout(Layout.COLUMN_MAJOR).shape(m, n, k).a(da.buffer, 0, m).b(db.buffer, 0, k)
                        .beta(0).c(dc.buffer, 0, m).batch(batch, (long) m * k, (long) k * n, (long) m * n).build());
                double[] c = Operand.values(dtype, dc.downloadBits());
                for (int item = 0; item < batch; item++) {
                    double[] x = new double[n];
                    for (int j = 0; j < n; j++) {
                        x[j] = rnd.nextBoolean() ? 1 : -1;
                    }
                    double[] bx = new double[k];
                    for (int p = 0; p < k; p++) {
                        for (int j = 0; j < n; j++) {
                            bx[p] += b[item * k * n + p + j * k] * x[j];
                        }
                    }
                    for (int i = 0; i < m; i++) {
                        double want = 0, got = 0;
                        for (int p = 0; p < k; p++) {
                            want += a[item * m * k + i + p * m] * bx[p];
                        }
                        for (int j = 0; j < n; j++) {
                            got += c[item * m * n + i + j * m] * x[j];
                        }
                        assertEquals(want, got, 0.0, dtype + " " + s.id() + ": item " + item + ", row " + i);
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------- R12: exact data; the checker checked

    @Tag("R12")
    @Tag("gemm-semantics")
    @ParameterizedTest(name = "{0}")
    @EnumSource(names = {"F32", "F64"})
    default void exactIntegerDataGivesBitEqualResults(DType dtype) {
        requireDeclared(dtype);
        SplittableRandom rnd = new SplittableRandom(12);
        int m = 67, n = 45, k = 300;
        double[] a = new double[m * k], b = new double[k * n];
        for (int i = 0; i < a.length; i++) {
            a[i] = rnd.nextInt(-4, 5);
        }
        for (int i = 0; i < b.length; i++) {
            b[i] = rnd.nextInt(-4, 5) * 0.5;
        }
        try (Operand da = Operand.of(bridge(), device(), dtype, a); Operand db = Operand.of(bridge(), device(), dtype, b);
             Operand dc = Operand.of(bridge(), device(), dtype, new double[m * n])) {
            bridge().gemm(GemmOp.of(Layout.ROW_MAJOR, m, n, k, 2, da.buffer, db.buffer, 0, dc.buffer));
            double[] got = Operand.values(dtype, dc.downloadBits());
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double s = 0;
                    for (int p = 0; p < k; p++) {
                        s += a[i * k + p] * b[p * n + j];
                    }
                    assertEquals(2 * s, got[i * n + j], 0.0, dtype + " C(" + i + "," + j + ")");
                }
            }
            // The checker must notice a one-ulp change in one element of exact data.
            double[] wrong = got.clone();
            wrong[7] = dtype == DType.F32 ? Math.nextUp((float) wrong[7]) : Math.nextUp(wrong[7]);
            Reference.Check bad = Reference.check(dtype, Layout.ROW_MAJOR, Transpose.NO_TRANS, Transpose.NO_TRANS, m, n, k, 2, 0,
                    a, 0, k, b, 0, n, new double[m * n], wrong, 0, n);
            assertTrue(bad.ok() || bad.worstRatio() > 0, "the checker must see the changed element");
            assertTrue(bad.worstRatio() > 0, "the checker's ratio must be non-zero for a perturbed element");
        }
    }

    // ---------------------------------------------------------------- R03: the beta == 0 NaN firewall

    @Tag("R03")
    @Tag("gemm-nan-handling")
    @ParameterizedTest(name = "{0}")
    @EnumSource(names = {"F32", "F64"})
    default void betaZeroOverwritesNaNInfAndGarbage(DType dtype) {
        requireDeclared(dtype);
        long[] poison = dtype == DType.F32
                ? new long[] {0x7fc00000L, 0x7f800001L, 0x7fa00000L, 0x7f800000L, 0xff800000L, Float.floatToRawIntBits(1e30f) & 0xffffffffL}
                : new long[] {0x7ff8000000000000L, 0x7ff0000000000001L, 0x7ff4000000000000L, 0x7ff0000000000000L, 0xfff0000000000000L,
                              Double.doubleToRawLongBits(1e300)};
        SplittableRandom rnd = new SplittableRandom(3);
        for (int size : EDGE_SIZES) {
            runCase(new Case(dtype, Layout.COLUMN_MAJOR, Transpose.NO_TRANS, Transpose.NO_TRANS, size, size, size, 0.7, 0, 1, 0), rnd, poison);
            runCase(new Case(dtype, Layout.ROW_MAJOR, Transpose.TRANS, Transpose.NO_TRANS, size, 3, size, -1, 0, 0, 1), rnd, poison);
        }
    }

    @Tag("R03")
    @Tag("gemm-nan-handling")
    @ParameterizedTest(name = "{0}")
    @EnumSource(names = {"F32", "F64"})
    default void alphaAndBetaZeroGivePositiveZeroEvenWithNaNInputs(DType dtype) {
        requireDeclared(dtype);
        int m = 33, n = 17, k = 9;
        double[] nan = new double[Math.max(m * k, k * n)];
        java.util.Arrays.fill(nan, Double.NaN);
        double[] cInit = new double[m * n];
        java.util.Arrays.fill(cInit, Double.NEGATIVE_INFINITY);
        try (Operand da = Operand.of(bridge(), device(), dtype, nan); Operand db = Operand.of(bridge(), device(), dtype, nan);
             Operand dc = Operand.of(bridge(), device(), dtype, cInit)) {
            bridge().gemm(GemmOp.of(Layout.ROW_MAJOR, m, n, k, 0, da.buffer, db.buffer, 0, dc.buffer));
            for (long bits : dc.downloadBits()) {
                assertEquals(0L, bits, dtype + ": alpha = beta = 0 must write +0.0");
            }
        }
    }

    // ---------------------------------------------------------------- R04: NaN in A reaches only its row

    @Tag("R04")
    @Tag("gemm-nan-handling")
    @ParameterizedTest(name = "{0}")
    @EnumSource(names = {"F32", "F64"})
    default void nanInAPoisonsOnlyItsRow(DType dtype) {
        requireDeclared(dtype);
        int m = 40, n = 30, k = 20;
        SplittableRandom rnd = new SplittableRandom(4);
        double[] a = new double[m * k], b = new double[k * n];
        for (int i = 0; i < a.length; i++) {
            a[i] = rnd.nextDouble(0.5, 1);
        }
        for (int i = 0; i < b.length; i++) {
            b[i] = rnd.nextDouble(0.5, 1);
        }
        a[7 * k + 3] = Double.NaN;
        try (Operand da = Operand.of(bridge(), device(), dtype, a); Operand db = Operand.of(bridge(), device(), dtype, b);
             Operand dc = Operand.of(bridge(), device(), dtype, new double[m * n])) {
            bridge().gemm(GemmOp.of(Layout.ROW_MAJOR, m, n, k, 1, da.buffer, db.buffer, 0, dc.buffer));
            double[] c = Operand.values(dtype, dc.downloadBits());
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    assertEquals(i == 7, Double.isNaN(c[i * n + j]), "NaN at C(" + i + "," + j + ")");
                }
            }
        }
    }

    // ---------------------------------------------------------------- R02: quick returns

    @Tag("R02")
    @Tag("gemm-arguments")
    @ParameterizedTest(name = "{0}")
    @EnumSource(names = {"F32", "F64"})
    default void quickReturnsLeaveCBitIdenticalAndReachNoDevice(DType dtype) {
        requireDeclared(dtype);
        long[] cBits = new long[64];
        for (int i = 0; i < cBits.length; i++) {
            cBits[i] = sentinel(dtype) + i;
        }
        try (Operand a = Operand.of(bridge(), device(), dtype, new double[64]); Operand b = Operand.of(bridge(), device(), dtype, new double[64]);
             Operand c = Operand.ofBits(bridge(), device(), dtype, cBits)) {
            long before = deviceCalls();
            bridge().gemm(GemmOp.builder().shape(0, 8, 8).a(a.buffer).b(b.buffer).c(c.buffer).beta(0).build());
            bridge().gemm(GemmOp.builder().shape(8, 0, 8).a(a.buffer).b(b.buffer).c(c.buffer).beta(0).build());
            bridge().gemm(GemmOp.builder().shape(8, 8, 0).a(a.buffer).b(b.buffer).c(c.buffer).beta(1).build());
            bridge().gemm(GemmOp.builder().shape(8, 8, 8).alpha(0).a(a.buffer).b(b.buffer).c(c.buffer).beta(1).build());
            bridge().gemm(GemmOp.builder().shape(8, 8, 8).a(a.buffer).b(b.buffer).c(c.buffer).batch(0, 0, 0, 0).build());
            bridge().gemmAsync(GemmOp.builder().shape(0, 8, 8).a(a.buffer).b(b.buffer).c(c.buffer).build()).join();
            assertEquals(before, deviceCalls(), "a quick return must not reach the device");
            assertEquals(-1, c.firstChange(), "a quick return must leave C bit-identical");
        }
    }

    @Tag("gemm-semantics")
    @ParameterizedTest(name = "{0}")
    @EnumSource(names = {"F32", "F64"})
    default void kZeroScalesCByBeta(DType dtype) {
        requireDeclared(dtype);
        double[] c0 = {1, -2, Double.NaN, 4, 5, 6};
        try (Operand a = Operand.of(bridge(), device(), dtype, new double[1]); Operand b = Operand.of(bridge(), device(), dtype, new double[1]);
             Operand c = Operand.of(bridge(), device(), dtype, c0)) {
            bridge().gemm(GemmOp.builder().shape(2, 3, 0).a(a.buffer).b(b.buffer).c(c.buffer).beta(2).build());
            double[] got = Operand.values(dtype, c.downloadBits());
            assertEquals(2.0, got[0]);
            assertEquals(-4.0, got[1]);
            assertTrue(Double.isNaN(got[2]));
            bridge().gemm(GemmOp.builder().shape(2, 3, 0).a(a.buffer).b(b.buffer).c(c.buffer).beta(0).build());
            for (long bits : c.downloadBits()) {
                assertEquals(0L, bits, "k = 0, beta = 0 writes +0 over NaN too");
            }
        }
    }

    // ---------------------------------------------------------------- R01: the illegal-argument matrix

    /** One bad argument: how to break a valid op, and the words the error must contain. */
    record Bad(String what, UnaryOperator<GemmOp.Builder> breakIt, String message) { }

    @Tag("R01")
    @Tag("gemm-arguments")
    @Test
    default void rejectsEachBadArgumentNamingItAndWritesNothing() {
        DType dtype = firstDtype();
        DType other = dtype == DType.F32 ? DType.F64 : DType.F32;
        try (Operand a = Operand.of(bridge(), device(), dtype, new double[4 * 6]);
             Operand b = Operand.of(bridge(), device(), dtype, new double[6 * 5]);
             Operand c = Operand.ofBits(bridge(), device(), dtype, fillBits(4 * 5, sentinel(dtype)));
             Operand shortBuf = Operand.of(bridge(), device(), dtype, new double[3])) {
            DeviceBuffer wrongType = device().supports(other) ? bridge().allocate(device(), other, 64) : null;
            List<Bad> cases = new ArrayList<>(List.of(
                new Bad("layout null", x -> x.layout(null), "layout must not be null"),
                new Bad("transA null", x -> x.transA(null), "transA must not be null"),
                new Bad("transB null", x -> x.transB(null), "transB must not be null"),
                new Bad("m < 0", x -> x.shape(-1, 5, 6), "m must be >= 0"),
                new Bad("n < 0", x -> x.shape(4, -1, 6), "n must be >= 0"),
                new Bad("k < 0", x -> x.shape(4, 5, -1), "k must be >= 0"),
                new Bad("lda row-major", x -> x.a(a.buffer, 0, 5), "lda must be >= max(1, columns) = 6"),
                new Bad("ldb row-major", x -> x.b(b.buffer, 0, 4), "ldb must be >= max(1, columns) = 5"),
                new Bad("ldc row-major", x -> x.c(c.buffer, 0, 4), "ldc must be >= max(1, columns) = 5"),
                new Bad("lda col-major", x -> x.layout(Layout.COLUMN_MAJOR).a(a.buffer, 0, 3), "lda must be >= max(1, rows) = 4"),
                new Bad("ldc col-major", x -> x.layout(Layout.COLUMN_MAJOR).a(a.buffer, 0, 4).b(b.buffer, 0, 6).c(c.buffer, 0, 3), "ldc must be >= max(1, rows) = 4"),
                new Bad("lda zero", x -> x.a(a.buffer, 0, 0), "lda must be >= max(1, columns)"),
                new Bad("batch < 0", x -> x.batch(-1, 0, 0, 0), "batchCount must be >= 0"),
                new Bad("a null", x -> x.a(null), "a must not be null"),
                new Bad("b null", x -> x.b(null), "b must not be null"),
                new Bad("c null", x -> x.c(null), "c must not be null"),
                new Bad("a too short", x -> x.a(shortBuf.buffer), "a is too short"),
                new Bad("b too short", x -> x.b(shortBuf.buffer), "b is too short"),
                new Bad("c offset past end", x -> x.c(c.buffer, 1, 5), "c is too short"),
                new Bad("negative offset", x -> x.a(a.buffer, -1, 6), "offsetA must be >= 0"),
                new Bad("negative stride", x -> x.batch(2, -1, 0, 20), "strideA must be >= 0"),
                new Bad("overlapping batch items of C", x -> x.batch(2, 0, 0, 3), "strideC must be >= the extent of one C"),
                new Bad("m and lda both bad: m first", x -> x.shape(-1, 5, 6).a(a.buffer, 0, 0), "m must be >= 0"),
                new Bad("lda and ldc both bad: lda first", x -> x.a(a.buffer, 0, 1).c(c.buffer, 0, 1), "lda must be"),
                new Bad("k and null a: k first", x -> x.shape(4, 5, -2).a(null), "k must be >= 0"),
                new Bad("ldb and short c: ldb first", x -> x.b(b.buffer, 0, 1).c(shortBuf.buffer), "ldb must be")));
            if (wrongType != null) {
                cases.add(new Bad("dtype mismatch", x -> x.a(wrongType), "b must have the element type of a"));
            }
            long launches = deviceCalls();
            for (Bad bad : cases) {
                GemmOp.Builder builder = GemmOp.builder().shape(4, 5, 6).a(a.buffer).b(b.buffer).c(c.buffer);
                GemmOp op = bad.breakIt().apply(builder).build();
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> bridge().gemm(op), bad.what());
                assertTrue(e.getMessage().contains(bad.message()), bad.what() + ": message was '" + e.getMessage() + "'");
                assertThrows(IllegalArgumentException.class, () -> bridge().gemmAsync(op), bad.what() + " (async)");
            }
            assertEquals(launches, deviceCalls(), "a rejected call must not reach the device");
            assertEquals(-1, c.firstChange(), "a rejected call must not write C");
            if (wrongType != null) {
                wrongType.close();
            }
        }
    }

    // ---------------------------------------------------------------- R07: aliasing

    @Tag("R07")
    @Tag("gemm-arguments")
    @Test
    default void rejectsCOverlappingAOrB() {
        DType dtype = firstDtype();
        try (Operand shared = Operand.of(bridge(), device(), dtype, new double[200])) {
            DeviceBuffer s = shared.buffer;
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> bridge().gemm(GemmOp.builder().shape(4, 4, 4).a(s, 0, 4).b(s, 100, 4).c(s, 8, 4).build()));
            assertTrue(e.getMessage().contains("c must not overlap a"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> bridge().gemm(GemmOp.builder().shape(4, 4, 4).a(s, 0, 4).b(s, 100, 4).c(s, 110, 4).build()));
            assertTrue(e.getMessage().contains("c must not overlap b"), e.getMessage());
            // Disjoint parts of one buffer, and A == B, are fine.
            bridge().gemm(GemmOp.builder().shape(4, 4, 4).a(s, 0, 4).b(s, 0, 4).c(s, 100, 4).build());
            assertEquals(-1, java.util.stream.IntStream.range(0, 100).filter(i -> shared.downloadBits()[i] != shared.bits[i]).findFirst().orElse(-1));
        }
    }

    // ---------------------------------------------------------------- batched GEMM

    @Tag("gemm-batched")
    @ParameterizedTest(name = "{0}")
    @EnumSource(names = {"F32", "F64"})
    default void stridedBatchEqualsItsItemsBitwise(DType dtype) {
        requireDeclared(dtype);
        int m = 19, n = 23, k = 31, batch = 7;
        long sa = m * k + 5, sb = 0, sc = m * n + 3;
        SplittableRandom rnd = new SplittableRandom(8);
        double[] a = rnd.doubles(sa * batch, -1, 1).toArray(), b = rnd.doubles(k * n, -1, 1).toArray();
        try (Operand da = Operand.of(bridge(), device(), dtype, a); Operand db = Operand.of(bridge(), device(), dtype, b);
             Operand batched = Operand.of(bridge(), device(), dtype, new double[(int) (sc * batch)]);
             Operand single = Operand.of(bridge(), device(), dtype, new double[(int) (sc * batch)])) {
            bridge().gemm(GemmOp.builder().shape(m, n, k).alpha(0.5).a(da.buffer, 0, k).b(db.buffer, 0, n).c(batched.buffer, 0, n)
                    .batch(batch, sa, sb, sc).build());
            for (int i = 0; i < batch; i++) {
                bridge().gemm(GemmOp.builder().shape(m, n, k).alpha(0.5).a(da.buffer, i * sa, k).b(db.buffer, 0, n)
                        .c(single.buffer, i * sc, n).build());
            }
            assertTrue(java.util.Arrays.equals(batched.downloadBits(), single.downloadBits()), dtype + ": batch differs from its items");
        }
    }

    // ---------------------------------------------------------------- R13, R17: determinism and many callers

    @Tag("R13")
    @Tag("determinism")
    @ParameterizedTest(name = "{0}")
    @EnumSource(names = {"F32", "F64"})
    default void repeatedRunsAreBitwiseIdentical(DType dtype) {
        requireDeclared(dtype);
        SplittableRandom rnd = new SplittableRandom(13);
        int m = 301, n = 277, k = 263;
        try (Operand a = Operand.of(bridge(), device(), dtype, rnd.doubles(m * k, -1, 1).toArray());
             Operand b = Operand.of(bridge(), device(), dtype, rnd.doubles(k * n, -1, 1).toArray());
             Operand c = Operand.of(bridge(), device(), dtype, new double[m * n])) {
            GemmOp op = GemmOp.of(Layout.ROW_MAJOR, m, n, k, 1, a.buffer, b.buffer, 0, c.buffer);
            bridge().gemm(op);
            long[] first = c.downloadBits();
            for (int r = 0; r < 20; r++) {
                bridge().gemm(op);
                assertTrue(java.util.Arrays.equals(first, c.downloadBits()), dtype + ": run " + r + " differs");
            }
        }
    }

    @Tag("R17")
    @Tag("concurrency")
    @Test
    default void concurrentCallersGetTheSingleThreadedBits() throws Exception {
        DType dtype = firstDtype();
        int[][] shapes = {{7, 9, 11}, {64, 64, 64}, {129, 65, 33}, {200, 150, 100}};
        List<long[]> expected = new ArrayList<>();
        List<Operand[]> inputs = new ArrayList<>();
        SplittableRandom rnd = new SplittableRandom(17);
        for (int[] s : shapes) {
            Operand a = Operand.of(bridge(), device(), dtype, rnd.doubles((long) s[0] * s[2], -1, 1).toArray());
            Operand b = Operand.of(bridge(), device(), dtype, rnd.doubles((long) s[2] * s[1], -1, 1).toArray());
            inputs.add(new Operand[] {a, b});
            try (Operand c = Operand.of(bridge(), device(), dtype, new double[s[0] * s[1]])) {
                bridge().gemm(GemmOp.of(Layout.ROW_MAJOR, s[0], s[1], s[2], 1, a.buffer, b.buffer, 0, c.buffer));
                expected.add(c.downloadBits());
            }
        }
        try (ExecutorService platform = Executors.newFixedThreadPool(24);
             ExecutorService virtual = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<String>> results = new ArrayList<>();
            for (int t = 0; t < 24 + 200; t++) {
                int which = t % shapes.length;
                Callable<String> job = () -> {
                    int[] s = shapes[which];
                    try (DeviceBuffer c = bridge().allocate(device(), dtype, (long) s[0] * s[1])) {
                        for (int round = 0; round < 4; round++) {
                            bridge().gemm(GemmOp.of(Layout.ROW_MAJOR, s[0], s[1], s[2], 1, inputs.get(which)[0].buffer, inputs.get(which)[1].buffer, 0, c));
                            long[] got = Operand.toBits(dtype, dtype == DType.F32 ? toDoubles(c.toFloatArray()) : c.toDoubleArray());
                            if (!java.util.Arrays.equals(expected.get(which), got)) {
                                return "shape " + which + " round " + round + " differs";
                            }
                        }
                    }
                    return null;
                };
                results.add(t < 24 ? platform.submit(job) : virtual.submit(job));
            }
            for (Future<String> f : results) {
                String problem = f.get(5, TimeUnit.MINUTES);
                assertEquals(null, problem);
            }
        } finally {
            inputs.forEach(pair -> { pair[0].close(); pair[1].close(); });
        }
    }

    // ---------------------------------------------------------------- R09: more than 2^31 elements

    /**
     * C of 65536 × 32769 F32 elements (2^31 + 65536), so every index past 2^31 is used. Inputs are
     * small integers, so every result is exact, and C is checked in O(m·n) by a random projection:
     * C·x must equal A·(B·x) exactly for x in {−1, 1}^n. Skipped where the device cannot hold C in one
     * buffer.
     */
    @Tag("R09")
    @Tag("gemm-limits")
    @Test
    default void cWithMoreThan2To31Elements() {
        long m = 65536, n = 32769, k = 2;
        long elements = m * n;
        org.junit.jupiter.api.Assumptions.assumeTrue(elements > (1L << 31));
        org.junit.jupiter.api.Assumptions.assumeTrue(device().supports(DType.F32), "needs F32");
        // A capability, not today's free memory: the same machine runs or skips this case whatever else it is doing.
        long bytes = 4 * elements;
        long largest = device().maxAllocationBytes();
        org.junit.jupiter.api.Assumptions.assumeTrue(largest >= bytes, () -> device().id() + " holds at most "
                + (largest == 0 ? "an unknown amount" : largest + " bytes") + " in one buffer (Device.maxAllocationBytes); C needs " + bytes);
        SplittableRandom rnd = new SplittableRandom(9);
        float[] a = new float[(int) (m * k)], b = new float[(int) (k * n)];
        for (int i = 0; i < a.length; i++) {
            a[i] = rnd.nextInt(-2, 3);
        }
        for (int i = 0; i < b.length; i++) {
            b[i] = rnd.nextInt(-2, 3);
        }
        try (DeviceBuffer da = bridge().allocate(device(), DType.F32, a.length).copyFrom(a);
             DeviceBuffer db = bridge().allocate(device(), DType.F32, b.length).copyFrom(b);
             DeviceBuffer dc = bridge().allocate(device(), DType.F32, elements)) {
            bridge().gemm(GemmOp.builder().layout(Layout.COLUMN_MAJOR).shape(m, n, k).a(da).b(db).beta(0).c(dc).build());
            double[] x = new double[(int) n];
            for (int j = 0; j < n; j++) {
                x[j] = rnd.nextBoolean() ? 1 : -1;
            }
            double[] bx = new double[(int) k];
            for (int p = 0; p < k; p++) {
                for (int j = 0; j < n; j++) {
                    bx[p] += b[(int) (p + j * k)] * x[j];
                }
            }
            double[] cx = new double[(int) m];
            int columnsPerChunk = 256;
            try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
                java.lang.foreign.MemorySegment chunk = arena.allocate(4 * m * columnsPerChunk, 64);
                for (long j0 = 0; j0 < n; j0 += columnsPerChunk) {
                    long cols = Math.min(columnsPerChunk, n - j0);
                    java.lang.foreign.MemorySegment view = chunk.asSlice(0, 4 * m * cols);
                    dc.copyTo(j0 * m, view);
                    for (long j = 0; j < cols; j++) {
                        double xj = x[(int) (j0 + j)];
                        for (int i = 0; i < m; i++) {
                            cx[i] += view.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, i + j * m) * xj;
                        }
                    }
                }
            }
            for (int i = 0; i < m; i++) {
                double expect = a[i] * bx[0] + a[(int) (i + m)] * bx[1];
                if (cx[i] != expect) {
                    fail("row " + i + " of C·x is " + cx[i] + ", A·(B·x) is " + expect);
                }
            }
        }
    }

    // ---------------------------------------------------------------- R19: lifetimes

    @Tag("R19")
    @Tag("lifetime")
    @Test
    default void useAfterCloseIsIllegalState() {
        DType dtype = firstDtype();
        DeviceBuffer a = bridge().allocate(device(), dtype, 16), b = bridge().allocate(device(), dtype, 16), c = bridge().allocate(device(), dtype, 16);
        a.close();
        a.close();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> bridge().gemm(GemmOp.of(Layout.ROW_MAJOR, 4, 4, 4, 1, a, b, 0, c)));
        assertTrue(e.getMessage().startsWith("a is closed"), e.getMessage());
        assertThrows(IllegalStateException.class, () -> a.copyFrom(0, java.lang.foreign.MemorySegment.ofArray(new byte[0])));
        assertTrue(a.isClosed());
        b.close();
        c.close();

        try (KernelBridge other = KernelBridge.open(config(), providers())) {
            Device d = other.device(deviceId());
            DeviceBuffer x = other.allocate(d, dtype, 16);
            other.close();
            assertTrue(x.isClosed(), "closing the bridge frees its buffers");
            assertThrows(IllegalStateException.class, () -> other.allocate(d, dtype, 1));
            assertThrows(IllegalStateException.class, other::devices);
        }
    }

    private static long[] fillBits(int n, long bits) {
        long[] out = new long[n];
        java.util.Arrays.fill(out, bits);
        return out;
    }

    private static double[] toDoubles(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }
}
