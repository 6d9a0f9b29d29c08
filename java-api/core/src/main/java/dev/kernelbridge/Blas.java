package dev.kernelbridge;

import dev.kernelbridge.GemmChecks.Region;
import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * BLAS-style GEMM on host memory, so a framework adopts KernelBridge by changing one call.
 * The array forms take netlib's argument order and column-major storage (as netlib-java and
 * dev.ludovic.netlib do); the segment forms take a {@link Layout} like CBLAS. Placement follows a
 * {@link Dispatch} (fastest device, a split across devices, or a pinned one); work that fails on a
 * device is re-run on the next, and C is written only by a successful attempt. Arguments are
 * checked exactly as {@link GemmOp}'s, before anything is written. Thread-safe; obtained from
 * {@link KernelBridge#blas()} or {@link KernelBridge#blas(Dispatch)}.
 */
public final class Blas {
    private static final Object NATIVE_MEMORY = new Object();

    private final KernelBridge bridge;
    private final Dispatch dispatch;

    Blas(KernelBridge bridge, Dispatch dispatch) {
        this.bridge = bridge;
        this.dispatch = dispatch;
    }

    /** Netlib SGEMM: C := alpha·op(A)·op(B) + beta·C, column-major, with element offsets. */
    public void sgemm(String transa, String transb, int m, int n, int k, float alpha, float[] a, int offa, int lda,
                      float[] b, int offb, int ldb, float beta, float[] c, int offc, int ldc) {
        run(DType.F32, Layout.COLUMN_MAJOR, Transpose.parse(transa, "transa"), Transpose.parse(transb, "transb"), m, n, k, alpha, beta,
                a == null ? null : MemorySegment.ofArray(a), offa, lda,
                b == null ? null : MemorySegment.ofArray(b), offb, ldb,
                c == null ? null : MemorySegment.ofArray(c), offc, ldc);
    }

    public void sgemm(String transa, String transb, int m, int n, int k, float alpha, float[] a, int lda,
                      float[] b, int ldb, float beta, float[] c, int ldc) {
        sgemm(transa, transb, m, n, k, alpha, a, 0, lda, b, 0, ldb, beta, c, 0, ldc);
    }

    /** Netlib DGEMM: C := alpha·op(A)·op(B) + beta·C, column-major, with element offsets. */
    public void dgemm(String transa, String transb, int m, int n, int k, double alpha, double[] a, int offa, int lda,
                      double[] b, int offb, int ldb, double beta, double[] c, int offc, int ldc) {
        run(DType.F64, Layout.COLUMN_MAJOR, Transpose.parse(transa, "transa"), Transpose.parse(transb, "transb"), m, n, k, alpha, beta,
                a == null ? null : MemorySegment.ofArray(a), offa, lda,
                b == null ? null : MemorySegment.ofArray(b), offb, ldb,
                c == null ? null : MemorySegment.ofArray(c), offc, ldc);
    }

    public void dgemm(String transa, String transb, int m, int n, int k, double alpha, double[] a, int lda,
                      double[] b, int ldb, double beta, double[] c, int ldc) {
        dgemm(transa, transb, m, n, k, alpha, a, 0, lda, b, 0, ldb, beta, c, 0, ldc);
    }

    /** CBLAS-style SGEMM on memory segments of floats (heap or native, any byte alignment). */
    public void sgemm(Layout layout, Transpose transA, Transpose transB, long m, long n, long k, float alpha,
                      MemorySegment a, long lda, MemorySegment b, long ldb, float beta, MemorySegment c, long ldc) {
        run(DType.F32, layout, transA, transB, m, n, k, alpha, beta, a, 0, lda, b, 0, ldb, c, 0, ldc);
    }

    /** CBLAS-style DGEMM on memory segments of doubles (heap or native, any byte alignment). */
    public void dgemm(Layout layout, Transpose transA, Transpose transB, long m, long n, long k, double alpha,
                      MemorySegment a, long lda, MemorySegment b, long ldb, double beta, MemorySegment c, long ldc) {
        run(DType.F64, layout, transA, transB, m, n, k, alpha, beta, a, 0, lda, b, 0, ldb, c, 0, ldc);
    }

    /**
     * Strided-batched SGEMM on segments: for b in [0, batchCount), C_b := alpha·op(A_b)·op(B_b) + beta·C_b
     * where X_b starts {@code b·strideX} floats after X's first element. SPLIT divides the batch items.
     */
    public void sgemmBatched(Layout layout, Transpose transA, Transpose transB, long m, long n, long k, float alpha,
                             MemorySegment a, long lda, long strideA, MemorySegment b, long ldb, long strideB,
                             float beta, MemorySegment c, long ldc, long strideC, long batchCount) {
        run(DType.F32, layout, transA, transB, m, n, k, alpha, beta, a, 0, lda, strideA, b, 0, ldb, strideB, c, 0, ldc, strideC, batchCount);
    }

    /** Strided-batched DGEMM on segments; see {@link #sgemmBatched}. */
    public void dgemmBatched(Layout layout, Transpose transA, Transpose transB, long m, long n, long k, double alpha,
                             MemorySegment a, long lda, long strideA, MemorySegment b, long ldb, long strideB,
                             double beta, MemorySegment c, long ldc, long strideC, long batchCount) {
        run(DType.F64, layout, transA, transB, m, n, k, alpha, beta, a, 0, lda, strideA, b, 0, ldb, strideB, c, 0, ldc, strideC, batchCount);
    }

    /**
     * OpenBLAS's {@code cblas_sbgemm}: C := alpha·op(A)·op(B) + beta·C with A and B in BF16 (raw bits,
     * two bytes an element) and C in F32; products exact, accumulated in F32.
     */
    public void sbgemm(Layout layout, Transpose transA, Transpose transB, long m, long n, long k, float alpha,
                       MemorySegment a, long lda, MemorySegment b, long ldb, float beta, MemorySegment c, long ldc) {
        gemm(layout, transA, transB, m, n, k, alpha, DType.BF16, a, lda, b, ldb, beta, DType.F32, c, ldc);
    }

    /** Netlib-style sbgemm on arrays: BF16 bits in {@code short[]}, C in {@code float[]}, column-major. */
    public void sbgemm(String transa, String transb, int m, int n, int k, float alpha, short[] a, int offa, int lda,
                       short[] b, int offb, int ldb, float beta, float[] c, int offc, int ldc) {
        narrowArrays(DType.BF16, transa, transb, m, n, k, alpha, a, offa, lda, b, offb, ldb, beta, c, offc, ldc);
    }

    /** As {@link #sbgemm(Layout, Transpose, Transpose, long, long, long, float, MemorySegment, long, MemorySegment, long, float, MemorySegment, long)} with A and B in IEEE F16. */
    public void shgemm(Layout layout, Transpose transA, Transpose transB, long m, long n, long k, float alpha,
                       MemorySegment a, long lda, MemorySegment b, long ldb, float beta, MemorySegment c, long ldc) {
        gemm(layout, transA, transB, m, n, k, alpha, DType.F16, a, lda, b, ldb, beta, DType.F32, c, ldc);
    }

    /** Netlib-style shgemm on arrays: F16 bits in {@code short[]}, C in {@code float[]}, column-major. */
    public void shgemm(String transa, String transb, int m, int n, int k, float alpha, short[] a, int offa, int lda,
                       short[] b, int offb, int ldb, float beta, float[] c, int offc, int ldc) {
        narrowArrays(DType.F16, transa, transb, m, n, k, alpha, a, offa, lda, b, offb, ldb, beta, c, offc, ldc);
    }

    /**
     * GEMM of any type pair on segments: A and B hold {@code inputType}, C holds {@code outputType}
     * (F32→F32, F64→F64, BF16→BF16|F32, F16→F16|F32, I8→I32; see {@link GemmOp}). For I8, alpha and
     * beta must be integers.
     */
    public void gemm(Layout layout, Transpose transA, Transpose transB, long m, long n, long k, double alpha,
                     DType inputType, MemorySegment a, long lda, MemorySegment b, long ldb,
                     double beta, DType outputType, MemorySegment c, long ldc) {
        gemm(layout, transA, transB, m, n, k, alpha, inputType, a, lda, b, ldb, beta, outputType, c, ldc, 0, 0);
    }

    /** I8 GEMM with per-tensor zero points: C := alpha·(A − zeroPointA)·(B − zeroPointB) + beta·C in I32. */
    public void gemm(Layout layout, Transpose transA, Transpose transB, long m, long n, long k, double alpha,
                     DType inputType, MemorySegment a, long lda, MemorySegment b, long ldb,
                     double beta, DType outputType, MemorySegment c, long ldc, int zeroPointA, int zeroPointB) {
        GemmChecks.requireNonNull(inputType, "inputType must not be null");
        GemmChecks.requireNonNull(outputType, "outputType must not be null");
        run(inputType, outputType, layout, transA, transB, m, n, k, alpha, beta, a, 0, lda, 0, b, 0, ldb, 0, c, 0, ldc, 0, 1,
                zeroPointA, zeroPointB);
    }

    /** The array forms of sbgemm and shgemm: 16-bit inputs in {@code short[]}, C in {@code float[]}, column-major. */
    private void narrowArrays(DType type, String transa, String transb, int m, int n, int k, float alpha, short[] a, int offa, int lda,
                              short[] b, int offb, int ldb, float beta, float[] c, int offc, int ldc) {
        run(type, DType.F32, Layout.COLUMN_MAJOR, Transpose.parse(transa, "transa"), Transpose.parse(transb, "transb"), m, n, k,
                alpha, beta, a == null ? null : MemorySegment.ofArray(a), offa, lda, 0, b == null ? null : MemorySegment.ofArray(b), offb, ldb, 0,
                c == null ? null : MemorySegment.ofArray(c), offc, ldc, 0, 1, 0, 0);
    }

    /** The dispatch this facade places GEMMs by. */
    public Dispatch dispatch() { return dispatch; }

    private void run(DType dtype, Layout layout, Transpose transA, Transpose transB, long m, long n, long k,
                     double alpha, double beta, MemorySegment a, long offA, long lda, MemorySegment b, long offB, long ldb,
                     MemorySegment c, long offC, long ldc) {
        run(dtype, layout, transA, transB, m, n, k, alpha, beta, a, offA, lda, 0, b, offB, ldb, 0, c, offC, ldc, 0, 1);
    }

    private void run(DType dtype, Layout layout, Transpose transA, Transpose transB, long m, long n, long k,
                     double alpha, double beta, MemorySegment a, long offA, long lda, long strideA,
                     MemorySegment b, long offB, long ldb, long strideB,
                     MemorySegment c, long offC, long ldc, long strideC, long batchCount) {
        run(dtype, dtype, layout, transA, transB, m, n, k, alpha, beta, a, offA, lda, strideA, b, offB, ldb, strideB,
                c, offC, ldc, strideC, batchCount, 0, 0);
    }

    private void run(DType inputType, DType dtype, Layout layout, Transpose transA, Transpose transB, long m, long n, long k,
                     double alpha, double beta, MemorySegment a, long offA, long lda, long strideA,
                     MemorySegment b, long offB, long ldb, long strideB,
                     MemorySegment c, long offC, long ldc, long strideC, long batchCount, int zeroPointA, int zeroPointB) {
        if (batchCount < 0) {
            throw new IllegalArgumentException("batchCount must be >= 0, got " + batchCount);
        }
        Region ra = region("a", a, inputType, offA, lda, strideA);
        Region rb = region("b", b, inputType, offB, ldb, strideB);
        Region rc = region("c", c, dtype, offC, ldc, strideC);
        boolean work = GemmChecks.check(layout, transA, transB, m, n, k, alpha, beta, ra, rb, rc, batchCount, zeroPointA, zeroPointB);
        GemmChecks.require(!c.isReadOnly(), "c must be writable, got a read-only segment");
        for (MemorySegment s : new MemorySegment[] {a, b, c}) {
            if (!s.scope().isAlive()) {
                throw new IllegalStateException("the arena of " + (s == a ? "a" : s == b ? "b" : "c") + " is closed");
            }
            if (!s.isAccessibleBy(Thread.currentThread())) {
                throw new WrongThreadException("the segment " + (s == a ? "a" : s == b ? "b" : "c") + " is confined to another thread");
            }
        }
        if (!work) {
            return;
        }
        bridge.lifetime.acquire();
        try {
            bridge.scheduler().run(GemmChecks.toHost(layout, transA, transB, m, n, k, alpha, beta, ra, a, rb, b, rc, c, batchCount,
                    zeroPointA, zeroPointB), dispatch);
        } finally {
            bridge.lifetime.release();
        }
    }

    private static Region region(String name, MemorySegment s, DType dtype, long offset, long ld, long stride) {
        if (s == null) {
            return new Region(name, null, 0, 0, dtype, offset, ld, stride);
        }
        Object memory = s.heapBase().orElse(NATIVE_MEMORY);
        return new Region(name, memory, s.address(), s.byteSize() / dtype.byteSize(), dtype, offset, ld, stride);
    }

    @Override
    public String toString() {
        return "Blas on " + Objects.toString(bridge);
    }
}
