package dev.kernelbridge.netlib;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.ludovic.netlib.blas.BLAS;
import dev.ludovic.netlib.blas.JavaBLAS;
import java.util.List;
import java.util.Random;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/** LudovicBLAS against dev.ludovic.netlib's own Java BLAS: same results, same exceptions, GEMMs counted as KernelBridge's. */
class LudovicBLASTest {
    private static final BLAS STOCK = JavaBLAS.getInstance();
    private static final BLAS OURS = LudovicBLAS.getInstance();
    private static final int M = 37, N = 29, K = 41, PAD = 3;

    @Test
    void dgemmMatchesTheLibraryForEveryTransposeAndOffset() {
        Random r = new Random(1);
        for (String ta : List.of("N", "T", "t", "C")) {
            for (String tb : List.of("N", "T", "n", "Trans")) {
                for (double beta : new double[] {0.0, 0.5}) {
                    boolean na = ta.equalsIgnoreCase("N"), nb = tb.equalsIgnoreCase("N");
                    int lda = (na ? M : K) + PAD, ldb = (nb ? K : N) + PAD, ldc = M + PAD;
                    double[] a = doubles(r, 2 + lda * (na ? K : M)), b = doubles(r, 5 + ldb * (nb ? N : K)), c = doubles(r, 1 + ldc * N);
                    double[] expected = c.clone(), actual = c.clone();
                    STOCK.dgemm(ta, tb, M, N, K, 1.5, a, 2, lda, b, 5, ldb, beta, expected, 1, ldc);
                    long before = NetlibBridge.dgemmCalls();
                    OURS.dgemm(ta, tb, M, N, K, 1.5, a, 2, lda, b, 5, ldb, beta, actual, 1, ldc);
                    assertEquals(before + 1, NetlibBridge.dgemmCalls(), "KernelBridge ran the DGEMM");
                    assertArrayEquals(expected, actual, 1e-12 * K, ta + tb + " beta " + beta);
                }
            }
        }
    }

    @Test
    void sgemmMatchesTheLibraryWithAndWithoutOffsets() {
        Random r = new Random(2);
        float[] a = floats(r, M * K), b = floats(r, N * K), c = floats(r, M * N);
        float[] expected = c.clone(), actual = c.clone();
        STOCK.sgemm("N", "T", M, N, K, 0.75f, a, M, b, N, 2f, expected, M);
        long before = NetlibBridge.sgemmCalls();
        OURS.sgemm("N", "T", M, N, K, 0.75f, a, M, b, N, 2f, actual, M);
        assertEquals(before + 1, NetlibBridge.sgemmCalls());
        assertArrayEquals(expected, actual, 1e-5f * K);

        float[] c2 = floats(r, 4 + M * N), e2 = c2.clone(), a2 = floats(r, 7 + K * M);
        STOCK.sgemm("T", "T", M, N, K, -1f, a2, 7, K, b, 0, N, 0f, e2, 4, M);
        OURS.sgemm("T", "T", M, N, K, -1f, a2, 7, K, b, 0, N, 0f, c2, 4, M);
        assertArrayEquals(e2, c2, 1e-5f * K);
        assertEquals(before + 2, NetlibBridge.sgemmCalls());
    }

    @Test
    void badArgumentsThrowWhatTheLibraryThrows() {
        double[] a = new double[M * K], b = new double[K * N], c = new double[M * N];
        List<Consumer<BLAS>> calls = List.of(
                x -> x.dgemm("X", "N", M, N, K, 1, a, M, b, K, 0, c, M),      // 1 transa
                x -> x.dgemm("N", "Q", M, N, K, 1, a, M, b, K, 0, c, M),      // 2 transb
                x -> x.dgemm("N", "N", -1, N, K, 1, a, M, b, K, 0, c, M),     // 3 m
                x -> x.dgemm("N", "N", M, -1, K, 1, a, M, b, K, 0, c, M),     // 4 n
                x -> x.dgemm("N", "N", M, N, -1, 1, a, M, b, K, 0, c, M),     // 5 k
                x -> x.dgemm("N", "N", M, N, K, 1, a, M - 1, b, K, 0, c, M),  // 8 lda
                x -> x.dgemm("N", "T", M, N, K, 1, a, M, b, N - 1, 0, c, M),  // 10 ldb
                x -> x.dgemm("N", "N", M, N, K, 1, a, M, b, K, 0, c, M - 1),  // 13 ldc
                x -> x.dgemm("N", "N", M, N, K, 1, null, M, b, K, 0, c, M),   // null A
                x -> x.dgemm("N", "N", M, N, K, 1, a, 1, M, b, 0, K, 0, c, 0, M),  // A too short for its offset
                x -> x.dgemm("N", "N", M, N, K, 1, a, M, b, K, 0, new double[M * N - 1], M));
        for (int i = 0; i < calls.size(); i++) {
            Consumer<BLAS> call = calls.get(i);
            RuntimeException stock = assertThrows(RuntimeException.class, () -> call.accept(STOCK), "case " + i);
            RuntimeException ours = assertThrows(RuntimeException.class, () -> call.accept(OURS), "case " + i);
            assertInstanceOf(stock.getClass(), ours, "case " + i + ": " + ours);
            if (stock instanceof IllegalArgumentException) {
                assertEquals(stock.getMessage(), ours.getMessage(), "case " + i);
            }
        }
    }

    @Test
    void quickReturnsReadNothingAndAliasedCallsStayWithTheLibrary() {
        OURS.dgemm("N", "N", 0, N, K, 1, null, M, null, K, 0, null, M);      // m = 0: arrays never looked at
        double[] c = {1, 2, 3, 4};
        OURS.dgemm("N", "N", 2, 2, 2, 0.0, null, 2, null, 2, 1.0, c, 2);      // alpha = 0, beta = 1
        assertArrayEquals(new double[] {1, 2, 3, 4}, c);

        // C written into the array A comes from: KernelBridge refuses aliasing, the library's GEMM runs it.
        double[] shared = doubles(new Random(3), 64), expected = shared.clone();
        STOCK.dgemm("N", "N", 4, 4, 4, 1, expected, 0, 4, expected, 16, 4, 0, expected, 8, 4);
        long library = NetlibBridge.libraryCalls();
        OURS.dgemm("N", "N", 4, 4, 4, 1, shared, 0, 4, shared, 16, 4, 0, shared, 8, 4);
        assertEquals(library + 1, NetlibBridge.libraryCalls());
        assertArrayEquals(expected, shared);
    }

    @Test
    void everyOtherRoutineIsTheLibrarysOwn() {
        assertNotNull(((LudovicDelegate) OURS).delegate);
        assertEquals(STOCK.getClass(), ((LudovicDelegate) OURS).delegate.getClass());
        double[] x = {1, 2, 3}, y = {4, 5, 6};
        assertEquals(32.0, OURS.ddot(3, x, 1, y, 1));
    }

    static double[] doubles(Random r, int n) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = r.nextDouble() * 2 - 1;
        return v;
    }

    static float[] floats(Random r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = r.nextFloat() * 2 - 1;
        return v;
    }
}
