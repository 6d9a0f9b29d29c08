package dev.kernelbridge.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kernelbridge.Config;
import dev.kernelbridge.DType;
import dev.kernelbridge.KernelBridge;
import dev.kernelbridge.Layout;
import dev.kernelbridge.Transpose;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The CPU grouped GEMM on several threads: one flat tile space over every group, cut along columns
 * or rows ({@link BlockedGemm#runGrouped}), must give the bits one thread gives. Ragged groups of
 * every kind (empty, one row, large enough that the call runs in parallel), both cut directions (in
 * the column-major form the kernels see, these row-major calls have more rows than columns and are
 * cut along rows; the column-major ones are cut along columns) and a transposed operand.
 */
class GroupedGemmCpuThreadingTest {
    /** Empty groups, single-row groups and large ones; Σm = 600. */
    private static final long[] OFFSETS = {0, 0, 1, 130, 130, 377, 378, 600};
    private static final int N = 200, K = 150;
    private static final int[] THREADS = {1, 2, 3, 5};

    @Test
    @Tag("R12")
    @Tag("gemm-grouped")
    void exactIntegerDataIsExactOnEveryThreadCount() {
        SplittableRandom rnd = new SplittableRandom(11);
        int groups = OFFSETS.length - 1, rows = (int) OFFSETS[groups];
        // |sum| ≤ 4·4·150 + 2·4: every partial sum is an integer below 2^24, so F32 is exact.
        float[] a = ints(rnd, rows * K), b = ints(rnd, groups * K * N), c0 = ints(rnd, rows * N);
        for (Layout layout : Layout.values()) {
            for (Transpose transB : Transpose.values()) {
                float[] expected = reference(layout, transB, a, b, c0);
                for (int threads : THREADS) {
                    float[] c = run(threads, layout, transB, a, b, c0.clone());
                    assertArrayEquals(expected, c, layout + ", transB " + transB + ", " + threads + " threads");
                }
            }
        }
    }

    @Test
    @Tag("R13")
    @Tag("gemm-grouped")
    void roundedDataGivesTheBitsOfOneThread() {
        SplittableRandom rnd = new SplittableRandom(12);
        int groups = OFFSETS.length - 1, rows = (int) OFFSETS[groups];
        float[] a = floats(rnd, rows * K), b = floats(rnd, groups * K * N), c0 = floats(rnd, rows * N);
        for (Layout layout : Layout.values()) {
            float[] one = run(1, layout, Transpose.NO_TRANS, a, b, c0.clone());
            for (int threads : THREADS) {
                assertArrayEquals(one, run(threads, layout, Transpose.NO_TRANS, a, b, c0.clone()), layout + ", " + threads + " threads");
            }
        }
    }

    /** C := 1·A·op(B_g) + 2·C per group, A and C Σm×K / Σm×N in {@code layout} with tight leading dimensions. */
    private static float[] run(int threads, Layout layout, Transpose transB, float[] a, float[] b, float[] c) {
        boolean rowMajor = layout == Layout.ROW_MAJOR;
        int rows = (int) OFFSETS[OFFSETS.length - 1];
        long lda = rowMajor ? K : rows, ldc = rowMajor ? N : rows;
        // op(B_g) is K×N: stored K×N, or N×K when transposed, tight in the layout.
        long ldb = rowMajor == (transB == Transpose.NO_TRANS) ? N : K;
        Config config = Config.defaults().with(Config.CPU_THREADS, String.valueOf(threads));
        try (KernelBridge bridge = KernelBridge.open(config, List.of(new CpuBackendProvider()))) {
            bridge.groupedGemm().gemmRagged(layout, Transpose.NO_TRANS, transB, OFFSETS, N, K, 1.0, DType.F32, MemorySegment.ofArray(a), lda,
                    MemorySegment.ofArray(b), ldb, (long) K * N, 2.0, DType.F32, MemorySegment.ofArray(c), ldc);
        }
        return c;
    }

    /** The same call in exact long arithmetic (the data are integers). */
    private static float[] reference(Layout layout, Transpose transB, float[] a, float[] b, float[] c0) {
        boolean rowMajor = layout == Layout.ROW_MAJOR;
        int rows = (int) OFFSETS[OFFSETS.length - 1];
        float[] c = c0.clone();
        for (int g = 0; g + 1 < OFFSETS.length; g++) {
            for (int i = (int) OFFSETS[g]; i < OFFSETS[g + 1]; i++) {
                for (int j = 0; j < N; j++) {
                    long sum = 0;
                    for (int p = 0; p < K; p++) {
                        long x = (long) a[rowMajor ? i * K + p : p * rows + i];
                        // element (p, j) of op(B_g): stored (p, j), or (j, p) when transposed
                        int r = transB == Transpose.NO_TRANS ? p : j, col = transB == Transpose.NO_TRANS ? j : p;
                        int ld = rowMajor == (transB == Transpose.NO_TRANS) ? N : K;
                        long y = (long) b[g * K * N + (rowMajor ? r * ld + col : col * ld + r)];
                        sum += x * y;
                    }
                    int at = rowMajor ? i * N + j : j * rows + i;
                    long exact = sum + 2L * (long) c0[at];
                    assertEquals(exact, (long) (float) exact, "the reference must stay exact in F32");
                    c[at] = exact;
                }
            }
        }
        return c;
    }

    private static float[] ints(SplittableRandom rnd, int size) {
        float[] x = new float[size];
        for (int i = 0; i < size; i++) {
            x[i] = rnd.nextInt(-4, 5);
        }
        return x;
    }

    private static float[] floats(SplittableRandom rnd, int size) {
        float[] x = new float[size];
        for (int i = 0; i < size; i++) {
            x[i] = (float) rnd.nextDouble(-1, 1);
        }
        return x;
    }
}
