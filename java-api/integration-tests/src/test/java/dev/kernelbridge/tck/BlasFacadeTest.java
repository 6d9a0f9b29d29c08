package dev.kernelbridge.tck;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kernelbridge.Blas;
import dev.kernelbridge.Config;
import dev.kernelbridge.DType;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.Layout;
import dev.kernelbridge.Transpose;
import dev.kernelbridge.cpu.CpuBackendProvider;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/** The netlib/CBLAS facade: arrays with offsets, segments of every kind and alignment (R08, R20). */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BlasFacadeTest {
    private KernelBridge bridge;
    private Blas blas;

    @BeforeAll
    void open() {
        bridge = KernelBridge.open(Config.defaults(), List.of(new CpuBackendProvider()));
        blas = bridge.blas();
    }

    @AfterAll
    void close() {
        bridge.close();
    }

    @Test
    void netlibArraysWithOffsetsMatchTheReference() {
        SplittableRandom rnd = new SplittableRandom(1);
        int m = 37, n = 21, k = 45, off = 10, lda = k + 3, ldb = k + 1, ldc = m + 2;
        double[] a = rnd.doubles(off + (long) lda * m, -1, 1).toArray();
        double[] b = rnd.doubles(off + (long) ldb * n, -1, 1).toArray();
        double[] c0 = rnd.doubles(off + (long) ldc * n, -1, 1).toArray();
        double[] c = c0.clone();
        blas.dgemm("T", "n", m, n, k, 0.7, a, off, lda, b, off, ldb, 1.3, c, off, ldc);
        Reference.Check check = Reference.check(DType.F64, Layout.COLUMN_MAJOR, Transpose.TRANS, Transpose.NO_TRANS, m, n, k, 0.7, 1.3,
                a, off, lda, b, off, ldb, c0, c, off, ldc);
        assertTrue(check.ok(), check.firstProblem());

        float[] fa = new float[a.length], fb = new float[b.length], fc = new float[c0.length];
        for (int i = 0; i < fa.length; i++) {
            fa[i] = (float) a[i];
        }
        for (int i = 0; i < fb.length; i++) {
            fb[i] = (float) b[i];
        }
        blas.sgemm("T", "N", m, n, k, 1f, fa, off, lda, fb, off, ldb, 0f, fc, off, ldc);
        double[] da = new double[fa.length], db = new double[fb.length], dc = new double[fc.length];
        for (int i = 0; i < da.length; i++) {
            da[i] = fa[i];
        }
        for (int i = 0; i < db.length; i++) {
            db[i] = fb[i];
        }
        for (int i = 0; i < dc.length; i++) {
            dc[i] = fc[i];
        }
        Reference.Check f = Reference.check(DType.F32, Layout.COLUMN_MAJOR, Transpose.TRANS, Transpose.NO_TRANS, m, n, k, 1, 0,
                da, off, lda, db, off, ldb, new double[dc.length], dc, off, ldc);
        assertTrue(f.ok(), f.firstProblem());
        for (int i = 0; i < off; i++) {
            assertEquals(0f, fc[i], "elements before the offset stay untouched");
        }
    }

    @Test
    void segmentsAtOddByteOffsetsHeapAndNative() {
        SplittableRandom rnd = new SplittableRandom(2);
        int m = 19, n = 23, k = 17;
        float[] a = new float[m * k], b = new float[k * n];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) rnd.nextDouble(-1, 1);
        }
        for (int i = 0; i < b.length; i++) {
            b[i] = (float) rnd.nextDouble(-1, 1);
        }
        float[] expected = new float[m * n];
        blas.sgemm(Layout.ROW_MAJOR, Transpose.NO_TRANS, Transpose.NO_TRANS, m, n, k, 1f, MemorySegment.ofArray(a), k,
                MemorySegment.ofArray(b), n, 0f, MemorySegment.ofArray(expected), n);
        for (int shift : new int[] {1, 3, 40}) {
            try (Arena arena = Arena.ofShared()) {
                MemorySegment sa = copy(arena, a, shift), sb = copy(arena, b, shift);
                MemorySegment sc = arena.allocate(4L * m * n + shift).asSlice(shift, 4L * m * n);
                blas.sgemm(Layout.ROW_MAJOR, Transpose.NO_TRANS, Transpose.NO_TRANS, m, n, k, 1f, sa, k, sb, n, 0f, sc, n);
                assertArrayEquals(expected, sc.toArray(ValueLayout.JAVA_FLOAT_UNALIGNED), "native, byte shift " + shift);
                byte[] heap = new byte[4 * m * n + shift];
                MemorySegment hc = MemorySegment.ofArray(heap).asSlice(shift, 4L * m * n);
                blas.sgemm(Layout.ROW_MAJOR, Transpose.NO_TRANS, Transpose.NO_TRANS, m, n, k, 1f, sa, k, sb, n, 0f, hc, n);
                assertArrayEquals(expected, hc.toArray(ValueLayout.JAVA_FLOAT_UNALIGNED), "heap byte[], byte shift " + shift);
            }
        }
        // A confined segment is copied for the worker threads, and still gives the same bits.
        try (Arena confined = Arena.ofConfined()) {
            MemorySegment cc = confined.allocate(4L * m * n);
            blas.sgemm(Layout.ROW_MAJOR, Transpose.NO_TRANS, Transpose.NO_TRANS, m, n, k, 1f, copy(confined, a, 0), k, copy(confined, b, 0), n, 0f, cc, n);
            assertArrayEquals(expected, cc.toArray(ValueLayout.JAVA_FLOAT));
        }
    }

    @Test
    void closedOrForeignSegmentsAndBadNetlibArgumentsAreRejected() {
        Arena arena = Arena.ofShared();
        MemorySegment s = arena.allocate(4 * 16);
        arena.close();
        IllegalStateException closed = assertThrows(IllegalStateException.class,
                () -> blas.sgemm(Layout.ROW_MAJOR, Transpose.NO_TRANS, Transpose.NO_TRANS, 4, 4, 4, 1f, s, 4, s, 4, 0f, MemorySegment.ofArray(new float[16]), 4));
        assertTrue(closed.getMessage().contains("arena of a is closed"), closed.getMessage());

        float[] c = new float[4];
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> blas.sgemm("X", "N", 2, 2, 2, 1f, new float[4], 2, new float[4], 2, 0f, c, 2));
        assertTrue(e.getMessage().startsWith("transa must be one of N, T, C"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> blas.sgemm("N", "N", 2, 2, 2, 1f, new float[4], 1, new float[4], 2, 0f, c, 2));
        assertTrue(e.getMessage().startsWith("lda must be >= max(1, rows) = 2"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> blas.sgemm("N", "N", 2, 2, 2, 1f, c, 2, new float[4], 2, 0f, c, 2));
        assertTrue(e.getMessage().contains("c must not overlap a"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> blas.sgemm("N", "N", 2, 2, 2, 1f, new float[3], 2, new float[4], 2, 0f, c, 2));
        assertTrue(e.getMessage().contains("a is too short"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> blas.sgemm(Layout.ROW_MAJOR, Transpose.NO_TRANS, Transpose.NO_TRANS, 2, 2, 2, 1f,
                MemorySegment.ofArray(new float[4]), 2, MemorySegment.ofArray(new float[4]), 2, 0f, MemorySegment.ofArray(new float[4]).asReadOnly(), 2));
        assertTrue(e.getMessage().contains("c must be writable"), e.getMessage());
        assertArrayEquals(new float[4], c);
    }

    private static MemorySegment copy(Arena arena, float[] values, int shift) {
        MemorySegment s = arena.allocate(4L * values.length + shift).asSlice(shift, 4L * values.length);
        MemorySegment.copy(values, 0, s, ValueLayout.JAVA_FLOAT_UNALIGNED, 0, values.length);
        return s;
    }

    /** sbgemm/shgemm in netlib's array order (column-major, offsets) against an exact reference. */
    @Test
    void sbgemmAndShgemmTakeNetlibOrderOnArrays() {
        int m = 5, n = 4, k = 3, off = 2, lda = 6, ldb = 4, ldc = 7;
        SplittableRandom r = new SplittableRandom(3);
        for (boolean bf16 : new boolean[] {true, false}) {
            short[] a = new short[off + lda * m], b = new short[off + ldb * n]; // A is k x m stored (transa = "T")
            float[] av = new float[a.length], bv = new float[b.length];
            for (int i = 0; i < a.length; i++) {
                av[i] = r.nextInt(-3, 4);
                a[i] = bf16 ? dev.kernelbridge.NarrowFloat.toBf16(av[i]) : dev.kernelbridge.NarrowFloat.toF16(av[i]);
            }
            for (int i = 0; i < b.length; i++) {
                bv[i] = r.nextInt(-3, 4);
                b[i] = bf16 ? dev.kernelbridge.NarrowFloat.toBf16(bv[i]) : dev.kernelbridge.NarrowFloat.toF16(bv[i]);
            }
            float[] c = new float[off + ldc * n];
            java.util.Arrays.fill(c, 1f);
            if (bf16) {
                blas.sbgemm("T", "N", m, n, k, 2f, a, off, lda, b, off, ldb, 0.5f, c, off, ldc);
            } else {
                blas.shgemm("T", "N", m, n, k, 2f, a, off, lda, b, off, ldb, 0.5f, c, off, ldc);
            }
            for (int j = 0; j < n; j++) {
                for (int i = 0; i < m; i++) {
                    float s = 0;
                    for (int p = 0; p < k; p++) {
                        s += av[off + p + i * lda] * bv[off + p + j * ldb];
                    }
                    assertEquals(2 * s + 0.5f, c[off + i + j * ldc], 0f, (bf16 ? "sbgemm" : "shgemm") + " C(" + i + "," + j + ")");
                }
            }
            assertEquals(1f, c[0], 0f, "elements before the offset stay");
        }
    }
}
