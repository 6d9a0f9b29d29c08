package dev.kernelbridge.tck;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kernelbridge.DType;
import dev.kernelbridge.DeviceBuffer;
import dev.kernelbridge.Dispatch;
import dev.kernelbridge.GemmOp;
import dev.kernelbridge.GroupedGemm;
import dev.kernelbridge.Layout;
import dev.kernelbridge.NarrowFloat;
import dev.kernelbridge.Transpose;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Grouped GEMM (area gemm-grouped): the ragged mixture-of-experts form and lists of independent
 * GEMMs, on device buffers and on host memory pinned to the device under test, for every type pair
 * the device declares. Data are small integers, so every order of summation gives the same exact
 * value in every type (sums stay below 2⁸, exact in BF16) and results must match the host bitwise.
 * Every test also checks that nothing outside the groups' C was written (padding between rows, rows
 * outside every group), and the bad-argument cases that a rejected call names its group and writes
 * nothing.
 */
public interface GroupedGemmConformance extends KitContext {

    /** Input types and, for each, the outputs GEMM pairs it with. */
    static List<DType[]> pairs() {
        return List.of(new DType[] {DType.F32, DType.F32}, new DType[] {DType.F64, DType.F64},
                new DType[] {DType.BF16, DType.BF16}, new DType[] {DType.BF16, DType.F32},
                new DType[] {DType.F16, DType.F16}, new DType[] {DType.F16, DType.F32}, new DType[] {DType.I8, DType.I32});
    }

    /** Ragged boundaries with empty groups (first, middle, last) and single-row groups. */
    long[] RAGGED = {0, 0, 3, 3, 4, 9, 10, 17, 17};

    // ---------------------------------------------------------------- ragged form

    @Test
    @Tag("gemm-grouped")
    default void raggedOnDeviceBuffersIsExactForEveryDeclaredPair() {
        int cases = 0;
        for (DType[] pair : pairs()) {
            if (!device().supports(pair[0])) {
                continue;
            }
            for (Layout layout : Layout.values()) {
                for (Transpose ta : Transpose.values()) {
                    Transpose tb = ta == Transpose.NO_TRANS ? Transpose.TRANS : Transpose.NO_TRANS;
                    raggedCase(pair[0], pair[1], layout, ta, tb, RAGGED, 6, 11, 2, ta == Transpose.TRANS ? 0 : -1, 1 + cases);
                    cases++;
                }
            }
        }
        assertTrue(cases > 0, "the device declares no GEMM input type");
    }

    @Test
    @Tag("gemm-grouped")
    default void raggedWithOnlyEmptyGroupsOrNoGroupsWritesNothing() {
        DType t = firstDtype();
        raggedCase(t, t, Layout.ROW_MAJOR, Transpose.NO_TRANS, Transpose.NO_TRANS, new long[] {0, 0, 0}, 4, 3, 1, 1, 7);
        raggedCase(t, t, Layout.COLUMN_MAJOR, Transpose.NO_TRANS, Transpose.NO_TRANS, new long[] {0}, 4, 3, 1, 1, 8);
    }

    @Test
    @Tag("gemm-grouped")
    default void raggedAsyncCompletesOneFutureForTheWholeCall() {
        DType t = firstDtype();
        SplittableRandom rnd = new SplittableRandom(21);
        long[] offsets = {0, 5, 6, 6, 13};
        int n = 9, k = 8, groups = offsets.length - 1, rows = 13;
        double[] a = ints(rnd, rows * k), b = ints(rnd, groups * k * n), c = ints(rnd, rows * n);
        try (DeviceBuffer da = upload(t, a); DeviceBuffer db = upload(t, b); DeviceBuffer dc = upload(t, c)) {
            GroupedGemm.Ragged r = GroupedGemm.Ragged.builder().offsets(offsets).shape(n, k).alpha(2).beta(-1).a(da).b(db).c(dc).build();
            bridge().groupedGemm().runAsync(r).join();
            double[] want = c.clone();
            for (int g = 0; g < groups; g++) {
                for (long i = offsets[g]; i < offsets[g + 1]; i++) {
                    for (int j = 0; j < n; j++) {
                        double s = 0;
                        for (int p = 0; p < k; p++) {
                            s += a[(int) i * k + p] * b[g * k * n + p * n + j];
                        }
                        want[(int) i * n + j] = 2 * s - c[(int) i * n + j];
                    }
                }
            }
            assertArrayEquals(want, download(dc), "ragged async " + t.label());
        }
    }

    /**
     * One ragged call on device buffers: A (Σm rows of op(A)), G Bs with a gap between them, C with a
     * padded leading dimension and two rows past the last group, all filled with small integers.
     */
    private void raggedCase(DType in, DType out, Layout layout, Transpose ta, Transpose tb, long[] offsets, int n, int k,
                            double alpha, double beta, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int groups = offsets.length - 1;
        int rows = (int) offsets[groups] + 2;
        int pad = 2, gap = 3;
        int rowsA = ta == Transpose.NO_TRANS ? rows : k, colsA = ta == Transpose.NO_TRANS ? k : rows;
        int rowsB = tb == Transpose.NO_TRANS ? k : n, colsB = tb == Transpose.NO_TRANS ? n : k;
        long lda = tight(layout, rowsA, colsA) + pad, ldb = tight(layout, rowsB, colsB) + pad, ldc = tight(layout, rows, n) + pad;
        long strideB = ldb * (layout == Layout.ROW_MAJOR ? rowsB : colsB) + gap;
        double[] a = ints(rnd, (int) (lda * (layout == Layout.ROW_MAJOR ? rowsA : colsA)));
        double[] b = ints(rnd, (int) Math.max(1, strideB * Math.max(1, groups)));
        double[] c = ints(rnd, (int) (ldc * (layout == Layout.ROW_MAJOR ? rows : n)));
        double[] want = c.clone();
        for (int g = 0; g < groups; g++) {
            for (long i = offsets[g]; i < offsets[g + 1]; i++) {
                for (int j = 0; j < n; j++) {
                    double s = 0;
                    for (int p = 0; p < k; p++) {
                        s += a[(int) at(layout, ta, lda, 0, i, p)] * b[(int) at(layout, tb, ldb, g * strideB, p, j)];
                    }
                    int ci = (int) at(layout, Transpose.NO_TRANS, ldc, 0, i, j);
                    want[ci] = alpha * s + (beta == 0 ? 0 : beta * c[ci]);
                }
            }
        }
        String what = in.label() + "->" + out.label() + " " + layout + " " + ta + "/" + tb + " offsets " + java.util.Arrays.toString(offsets);
        try (DeviceBuffer da = upload(in, a); DeviceBuffer db = upload(in, b); DeviceBuffer dc = upload(out, c)) {
            bridge().groupedGemm().run(GroupedGemm.Ragged.builder().layout(layout).transA(ta).transB(tb).offsets(offsets).shape(n, k)
                    .alpha(alpha).beta(beta).a(da, 0, lda).b(db, 0, ldb, strideB).c(dc, 0, ldc).build());
            assertArrayEquals(want, download(dc), "device buffers, " + what);
        }
        // The same call on host memory, pinned to the device under test.
        MemorySegment ha = host(in, a), hb = host(in, b), hc = host(out, c);
        bridge().groupedGemm().with(Dispatch.pinned(device())).gemmRagged(layout, ta, tb, offsets, n, k, alpha, in, ha, lda, hb, ldb, strideB,
                beta, out, hc, ldc);
        assertArrayEquals(want, read(out, hc), "host memory, " + what);
    }

    // ---------------------------------------------------------------- general form

    @Test
    @Tag("gemm-grouped")
    default void listOfIndependentGemmsOfAnyShapeIsExactForEveryDeclaredPair() {
        // m×n×k, transposes, alpha, beta: a single row, a k == 0 group (C := beta·C), an empty one, a wide one.
        int[][] shapes = {{1, 7, 5}, {6, 4, 0}, {0, 3, 2}, {9, 13, 12}, {4, 1, 3}};
        for (DType[] pair : pairs()) {
            if (!device().supports(pair[0])) {
                continue;
            }
            SplittableRandom rnd = new SplittableRandom(pair[0].ordinal() * 10L + pair[1].ordinal());
            List<DeviceBuffer> open = new ArrayList<>();
            try {
                List<GemmOp> ops = new ArrayList<>();
                List<double[]> wants = new ArrayList<>();
                List<DeviceBuffer> cs = new ArrayList<>();
                for (int g = 0; g < shapes.length; g++) {
                    int m = shapes[g][0], n = shapes[g][1], k = shapes[g][2];
                    Layout layout = g % 2 == 0 ? Layout.ROW_MAJOR : Layout.COLUMN_MAJOR;
                    Transpose ta = g % 3 == 0 ? Transpose.TRANS : Transpose.NO_TRANS, tb = g % 2 == 1 ? Transpose.TRANS : Transpose.NO_TRANS;
                    double alpha = g % 2 == 0 ? 1 : 2, beta = g == 3 ? 0 : -1;
                    int rowsA = ta == Transpose.NO_TRANS ? m : k, colsA = ta == Transpose.NO_TRANS ? k : m;
                    int rowsB = tb == Transpose.NO_TRANS ? k : n, colsB = tb == Transpose.NO_TRANS ? n : k;
                    long lda = tight(layout, rowsA, colsA), ldb = tight(layout, rowsB, colsB), ldc = tight(layout, m, n) + 1;
                    double[] a = ints(rnd, Math.max(1, rowsA * colsA)), b = ints(rnd, Math.max(1, rowsB * colsB));
                    double[] c = ints(rnd, (int) Math.max(1, ldc * (layout == Layout.ROW_MAJOR ? m : n)));
                    double[] want = c.clone();
                    for (int i = 0; i < m; i++) {
                        for (int j = 0; j < n; j++) {
                            double s = 0;
                            for (int p = 0; p < k; p++) {
                                s += a[(int) at(layout, ta, lda, 0, i, p)] * b[(int) at(layout, tb, ldb, 0, p, j)];
                            }
                            int ci = (int) at(layout, Transpose.NO_TRANS, ldc, 0, i, j);
                            // k == 0 means C := beta·C, so −1·0 stays −0 there.
                            want[ci] = beta == 0 ? alpha * s : k == 0 ? beta * c[ci] : alpha * s + beta * c[ci];
                        }
                    }
                    DeviceBuffer da = upload(pair[0], a), db = upload(pair[0], b), dc = upload(pair[1], c);
                    open.addAll(List.of(da, db, dc));
                    ops.add(GemmOp.builder().layout(layout).transA(ta).transB(tb).shape(m, n, k).alpha(alpha).beta(beta)
                            .a(da, 0, lda).b(db, 0, ldb).c(dc, 0, ldc).build());
                    if (pair[1] == DType.I32) {
                        for (int x = 0; x < want.length; x++) {
                            want[x] += 0.0; // integers have no −0
                        }
                    }
                    wants.add(want);
                    cs.add(dc);
                }
                bridge().groupedGemm().run(ops);
                for (int g = 0; g < shapes.length; g++) {
                    assertArrayEquals(wants.get(g), download(cs.get(g)), "group " + g + " " + pair[0].label() + "->" + pair[1].label());
                }
            } finally {
                open.forEach(DeviceBuffer::close);
            }
        }
    }

    @Test
    @Tag("gemm-grouped")
    default void hostBatchOfIndependentGemmsIsExact() {
        DType t = firstDtype();
        SplittableRandom rnd = new SplittableRandom(5);
        long[] m = {3, 0, 1, 8}, n = {4, 2, 6, 5}, k = {2, 3, 7, 0};
        int size = m.length;
        MemorySegment[] a = new MemorySegment[size], b = new MemorySegment[size], c = new MemorySegment[size];
        double[][] want = new double[size][];
        long[] lda = new long[size], ldb = new long[size], ldc = new long[size];
        for (int g = 0; g < size; g++) {
            double[] av = ints(rnd, (int) Math.max(1, m[g] * k[g])), bv = ints(rnd, (int) Math.max(1, k[g] * n[g]));
            double[] cv = ints(rnd, (int) Math.max(1, m[g] * n[g]));
            lda[g] = Math.max(1, k[g]);
            ldb[g] = Math.max(1, n[g]);
            ldc[g] = Math.max(1, n[g]);
            want[g] = cv.clone();
            for (int i = 0; i < m[g]; i++) {
                for (int j = 0; j < n[g]; j++) {
                    double s = 0;
                    for (int p = 0; p < k[g]; p++) {
                        s += av[(int) (i * k[g] + p)] * bv[(int) (p * n[g] + j)];
                    }
                    want[g][(int) (i * n[g] + j)] = k[g] == 0 ? 2 * cv[(int) (i * n[g] + j)] : s + 2 * cv[(int) (i * n[g] + j)];
                }
            }
            a[g] = host(t, av);
            b[g] = host(t, bv);
            c[g] = host(t, cv);
        }
        Transpose[] none = {Transpose.NO_TRANS, Transpose.NO_TRANS, Transpose.NO_TRANS, Transpose.NO_TRANS};
        bridge().groupedGemm().with(Dispatch.pinned(device())).gemmBatch(Layout.ROW_MAJOR, none, none, m, n, k, new double[] {1, 1, 1, 1},
                t, a, lda, b, ldb, new double[] {2, 2, 2, 2}, t, c, ldc);
        for (int g = 0; g < size; g++) {
            assertArrayEquals(want[g], read(t, c[g]), "group " + g);
        }
    }

    // ---------------------------------------------------------------- bad arguments

    @Test
    @Tag("gemm-grouped")
    default void badArgumentsNameTheGroupAndTheRuleAndWriteNothing() {
        DType t = firstDtype();
        SplittableRandom rnd = new SplittableRandom(3);
        int n = 4, k = 3;
        double[] a = ints(rnd, 10 * k), b = ints(rnd, 3 * k * n), c = ints(rnd, 10 * n);
        try (DeviceBuffer da = upload(t, a); DeviceBuffer db = upload(t, b); DeviceBuffer dc = upload(t, c)) {
            GroupedGemm grouped = bridge().groupedGemm();
            GroupedGemm.Ragged.Builder ok = GroupedGemm.Ragged.builder().shape(n, k).a(da).b(db).c(dc);

            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> grouped.run(ok.offsets(0, 4, 2, 6).build()));
            assertTrue(e.getMessage().startsWith("group 1: m must be >= 0"), e.getMessage());

            // Group 2 runs past the end of A and C: rejected before group 0 or 1 is written.
            e = assertThrows(IllegalArgumentException.class, () -> grouped.run(ok.offsets(0, 4, 6, 12).build()));
            assertTrue(e.getMessage().startsWith("group 2: a is too short"), e.getMessage());

            // Four Bs where three fit.
            e = assertThrows(IllegalArgumentException.class, () -> grouped.run(ok.offsets(0, 1, 2, 3, 4).build()));
            assertTrue(e.getMessage().startsWith("group 3: b is too short"), e.getMessage());

            e = assertThrows(IllegalArgumentException.class, () -> grouped.run(ok.offsets().build()));
            assertTrue(e.getMessage().startsWith("offsets must hold G + 1"), e.getMessage());

            GemmOp good = GemmOp.builder().shape(2, n, k).a(da).b(db).c(dc).build();
            GemmOp badLd = GemmOp.builder().shape(2, n, k).a(da).b(db).c(dc, 8 * n, n - 1).build();
            e = assertThrows(IllegalArgumentException.class, () -> grouped.run(List.of(good, badLd)));
            assertTrue(e.getMessage().startsWith("group 1: ldc must be >= max(1, columns) = " + n), e.getMessage());

            // Two groups writing the same C would race.
            e = assertThrows(IllegalArgumentException.class, () -> grouped.run(List.of(good, good)));
            assertTrue(e.getMessage().startsWith("group 1: c must not overlap the c of group 0"), e.getMessage());

            e = assertThrows(IllegalArgumentException.class, () -> grouped.run(java.util.Arrays.asList(good, null)));
            assertTrue(e.getMessage().startsWith("group 1: op must not be null"), e.getMessage());

            assertArrayEquals(c, download(dc), "a rejected grouped call wrote C");

            // Host form: array lengths and the group's own rules.
            MemorySegment ha = host(t, a), hb = host(t, b), hc = host(t, c);
            Transpose[] two = {Transpose.NO_TRANS, Transpose.NO_TRANS};
            e = assertThrows(IllegalArgumentException.class, () -> grouped.gemmBatch(Layout.ROW_MAJOR, two, two, new long[] {1, 1},
                    new long[] {n, n}, new long[] {k}, new double[] {1, 1}, t, new MemorySegment[] {ha, ha}, new long[] {k, k},
                    new MemorySegment[] {hb, hb}, new long[] {n, n}, new double[] {0, 0}, t, new MemorySegment[] {hc, hc}, new long[] {n, n}));
            assertTrue(e.getMessage().startsWith("k must have one entry per group (2"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> grouped.gemmRagged(Layout.ROW_MAJOR, Transpose.NO_TRANS, Transpose.NO_TRANS,
                    new long[] {0, 3, 3, 11}, n, k, 1, t, ha, k, hb, n, (long) k * n, 0, t, hc, n));
            assertTrue(e.getMessage().startsWith("group 2: a is too short"), e.getMessage());
            assertArrayEquals(c, read(t, hc), "a rejected host grouped call wrote C");
        }
    }

    // ---------------------------------------------------------------- helpers

    private static long tight(Layout layout, long rows, long cols) {
        return Math.max(1, layout == Layout.ROW_MAJOR ? cols : rows);
    }

    /** Index of element (i, j) of op(X) for X stored with {@code ld} from {@code offset}. */
    private static long at(Layout layout, Transpose t, long ld, long offset, long i, long j) {
        long r = t == Transpose.NO_TRANS ? i : j, c = t == Transpose.NO_TRANS ? j : i;
        return offset + (layout == Layout.ROW_MAJOR ? r * ld + c : c * ld + r);
    }

    /** Integers in [−2, 2]: exact in every type, and sums of up to 12 products times 2 stay exact in BF16. */
    private static double[] ints(SplittableRandom rnd, int count) {
        double[] v = new double[count];
        for (int i = 0; i < count; i++) {
            v[i] = rnd.nextInt(5) - 2;
        }
        return v;
    }

    private DeviceBuffer upload(DType t, double[] values) {
        DeviceBuffer buf = bridge().allocate(device(), t, values.length);
        buf.copyFrom(0, host(t, values));
        return buf;
    }

    private static double[] download(DeviceBuffer buf) {
        MemorySegment s = MemorySegment.ofArray(new byte[(int) buf.byteSize()]);
        buf.copyTo(0, s);
        return read(buf.dtype(), s);
    }

    /** The values in {@code t}'s storage, on the heap. */
    private static MemorySegment host(DType t, double[] v) {
        int n = v.length;
        return switch (t) {
            case F32 -> {
                float[] x = new float[n];
                for (int i = 0; i < n; i++) {
                    x[i] = (float) v[i];
                }
                yield MemorySegment.ofArray(x);
            }
            case F64 -> MemorySegment.ofArray(v.clone());
            case BF16, F16 -> {
                short[] x = new short[n];
                for (int i = 0; i < n; i++) {
                    x[i] = t == DType.BF16 ? NarrowFloat.toBf16((float) v[i]) : NarrowFloat.toF16((float) v[i]);
                }
                yield MemorySegment.ofArray(x);
            }
            case I8 -> {
                byte[] x = new byte[n];
                for (int i = 0; i < n; i++) {
                    x[i] = (byte) v[i];
                }
                yield MemorySegment.ofArray(x);
            }
            case I32 -> {
                int[] x = new int[n];
                for (int i = 0; i < n; i++) {
                    x[i] = (int) v[i];
                }
                yield MemorySegment.ofArray(x);
            }
        };
    }

    private static double[] read(DType t, MemorySegment s) {
        int n = (int) (s.byteSize() / t.byteSize());
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = switch (t) {
                case F32 -> s.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, i);
                case F64 -> s.getAtIndex(java.lang.foreign.ValueLayout.JAVA_DOUBLE_UNALIGNED, i);
                case BF16 -> NarrowFloat.fromBf16(s.getAtIndex(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, i));
                case F16 -> NarrowFloat.fromF16(s.getAtIndex(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, i));
                case I8 -> s.get(java.lang.foreign.ValueLayout.JAVA_BYTE, i);
                case I32 -> s.getAtIndex(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, i);
            };
        }
        return v;
    }
}
