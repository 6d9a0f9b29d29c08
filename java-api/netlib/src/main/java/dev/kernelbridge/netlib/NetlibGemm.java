package dev.kernelbridge.netlib;

/**
 * The GEMM contract both netlib interfaces share, checked before KernelBridge sees a call, so callers
 * get what their library would give them: reference BLAS's argument order (transa, transb, m, n, k,
 * lda, ldb, ldc — XERBLA's parameter numbers 1, 2, 3, 4, 5, 8, 10, 13) as an
 * {@link IllegalArgumentException} with XERBLA's words (dev.ludovic.netlib throws exactly this;
 * netlib-java's f2j code would print it and call {@code System.exit}), then the quick return
 * (m = 0, n = 0, or alpha = 0 or k = 0 with beta = 1: nothing is read or written, null arrays
 * included), then {@link NullPointerException} for a missing array and
 * {@link ArrayIndexOutOfBoundsException} for one too short. Transposes compare their first
 * character without case, as LSAME does ("t", "Trans" and "C" all mean transpose for real data).
 */
final class NetlibGemm {
    private NetlibGemm() { }

    /** Where a checked call goes. */
    enum Route { NOTHING, KERNELBRIDGE, LIBRARY }

    /** A library's own DGEMM with offsets, for what KernelBridge does not take. */
    interface Dgemm {
        void dgemm(String transa, String transb, int m, int n, int k, double alpha, double[] a, int offa, int lda,
                   double[] b, int offb, int ldb, double beta, double[] c, int offc, int ldc);
    }

    /** A library's own SGEMM with offsets. */
    interface Sgemm {
        void sgemm(String transa, String transb, int m, int n, int k, float alpha, float[] a, int offa, int lda,
                   float[] b, int offb, int ldb, float beta, float[] c, int offc, int ldc);
    }

    /** Both seams' DGEMM: checked as the interfaces check, then KernelBridge, the library, or nothing. */
    static void dgemm(Dgemm library, String transa, String transb, int m, int n, int k, double alpha, double[] a, int offa, int lda,
                      double[] b, int offb, int ldb, double beta, double[] c, int offc, int ldc) {
        switch (check("DGEMM", transa, transb, m, n, k, alpha == 0.0, beta == 1.0,
                a, a == null ? 0 : a.length, offa, lda, b, b == null ? 0 : b.length, offb, ldb, c, c == null ? 0 : c.length, offc, ldc)) {
            case NOTHING -> { }
            case LIBRARY -> {
                NetlibBridge.countLibrary();
                library.dgemm(transa, transb, m, n, k, alpha, a, offa, lda, b, offb, ldb, beta, c, offc, ldc);
            }
            case KERNELBRIDGE -> {
                NetlibBridge.blas().dgemm(letter(transa), letter(transb), m, n, k, alpha, a, offa, lda, b, offb, ldb, beta, c, offc, ldc);
                NetlibBridge.countDgemm();
            }
        }
    }

    /** Both seams' SGEMM; see {@link #dgemm}. */
    static void sgemm(Sgemm library, String transa, String transb, int m, int n, int k, float alpha, float[] a, int offa, int lda,
                      float[] b, int offb, int ldb, float beta, float[] c, int offc, int ldc) {
        switch (check("SGEMM", transa, transb, m, n, k, alpha == 0f, beta == 1f,
                a, a == null ? 0 : a.length, offa, lda, b, b == null ? 0 : b.length, offb, ldb, c, c == null ? 0 : c.length, offc, ldc)) {
            case NOTHING -> { }
            case LIBRARY -> {
                NetlibBridge.countLibrary();
                library.sgemm(transa, transb, m, n, k, alpha, a, offa, lda, b, offb, ldb, beta, c, offc, ldc);
            }
            case KERNELBRIDGE -> {
                NetlibBridge.blas().sgemm(letter(transa), letter(transb), m, n, k, alpha, a, offa, lda, b, offb, ldb, beta, c, offc, ldc);
                NetlibBridge.countSgemm();
            }
        }
    }

    static boolean transposed(String trans) {
        return !lsame(trans, 'N');
    }

    static Route check(String routine, String transa, String transb, int m, int n, int k, boolean alphaZero, boolean betaOne,
                       Object a, int lengthA, int offa, int lda, Object b, int lengthB, int offb, int ldb,
                       Object c, int lengthC, int offc, int ldc) {
        boolean nota = lsame(transa, 'N'), notb = lsame(transb, 'N');
        argument(routine, 1, nota || lsame(transa, 'T') || lsame(transa, 'C'));
        argument(routine, 2, notb || lsame(transb, 'T') || lsame(transb, 'C'));
        argument(routine, 3, m >= 0);
        argument(routine, 4, n >= 0);
        argument(routine, 5, k >= 0);
        argument(routine, 8, lda >= Math.max(1, nota ? m : k));
        argument(routine, 10, ldb >= Math.max(1, notb ? k : n));
        argument(routine, 13, ldc >= Math.max(1, m));
        if (m == 0 || n == 0 || ((alphaZero || k == 0) && betaOne)) {
            return Route.NOTHING;
        }
        java.util.Objects.requireNonNull(a, "a");
        java.util.Objects.requireNonNull(b, "b");
        java.util.Objects.requireNonNull(c, "c");
        boolean readsAB = !alphaZero && k > 0;
        if (readsAB) {
            extent(offa, lda, nota ? m : k, nota ? k : m, lengthA);
            extent(offb, ldb, notb ? k : n, notb ? n : k, lengthB);
        }
        extent(offc, ldc, m, n, lengthC);
        if (!readsAB) {
            return Route.LIBRARY;                   // C := beta·C only: the library's loop is as good as any
        }
        if ((c == a && overlaps(offc, ldc, m, n, offa, lda, nota ? m : k, nota ? k : m))
                || (c == b && overlaps(offc, ldc, m, n, offb, ldb, notb ? k : n, notb ? n : k))) {
            return Route.LIBRARY;                   // KernelBridge refuses C aliasing an input; the library computes something
        }
        return Route.KERNELBRIDGE;
    }

    private static void argument(String routine, int number, boolean ok) {
        if (!ok) {
            throw new IllegalArgumentException(String.format("** On entry to '%s' parameter number %d had an illegal value", routine, number));
        }
    }

    /** Last element of a column-major rows×cols matrix at {@code off} with leading dimension {@code ld} must be inside the array. */
    private static void extent(int off, int ld, int rows, int cols, int length) {
        long last = (long) off + (long) ld * (cols - 1) + rows - 1;
        if (off < 0) {
            throw new ArrayIndexOutOfBoundsException("Index " + off + " out of bounds for length " + length);
        }
        if (last >= length) {
            throw new ArrayIndexOutOfBoundsException("Index " + last + " out of bounds for length " + length);
        }
    }

    /** Whether two column-major regions of one array share an element span (conservative: first to last element). */
    private static boolean overlaps(int offc, int ldc, int m, int n, int off, int ld, int rows, int cols) {
        long c0 = offc, c1 = (long) offc + (long) ldc * (n - 1) + m;
        long o0 = off, o1 = (long) off + (long) ld * (cols - 1) + rows;
        return c0 < o1 && o0 < c1;
    }

    private static boolean lsame(String s, char upper) {
        return s != null && !s.isEmpty() && Character.toUpperCase(s.charAt(0)) == upper;
    }

    /** KernelBridge takes one letter; netlib callers may pass "t", "Trans" or "C". */
    static String letter(String trans) {
        return transposed(trans) ? "T" : "N";
    }
}
