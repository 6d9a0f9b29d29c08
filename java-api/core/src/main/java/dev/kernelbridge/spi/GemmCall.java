package dev.kernelbridge.spi;

import dev.kernelbridge.DType;
import dev.kernelbridge.Transpose;

/**
 * A checked GEMM in column-major form: for each batch item b,
 * {@code C_b := alpha·op(A_b − zeroPointA)·op(B_b − zeroPointB) + beta·C_b} with op(A) m×k, op(B) k×n
 * and C m×n, element (i, j) of a matrix at {@code offset + b·stride + i + j·ld} (offsets, strides and
 * leading dimensions in elements). Row-major calls arrive here transposed.
 *
 * <p>Types: A and B hold {@code inputType}, C holds {@code dtype}. The pairs are F32→F32, F64→F64,
 * BF16→BF16|F32 and F16→F16|F32 (products exact, accumulated in F32, C rounded once to its type),
 * and I8→I32 (exact integer arithmetic, wrapping modulo 2^32; alpha and beta are integers; the zero
 * points, in [−128, 127], are nonzero only here). A device that declares an input type in
 * {@link DeviceInfo#dtypes()} takes every pair it starts.
 *
 * <p>Guarantees from the API: m, n, batchCount ≥ 1; all footprints lie inside their buffers; C does
 * not overlap A or B. When {@code k == 0} the call means {@code C := beta·C}, A and B must not be
 * read, and beta == 0 writes exact +0 even over NaN; the API passes alpha == 0 this way too.
 * Whenever beta == 0, C is written without being read.
 */
public record GemmCall(
        DType dtype, Transpose transA, Transpose transB,
        long m, long n, long k,
        double alpha,
        BackendBuffer a, long offsetA, long lda, long strideA,
        BackendBuffer b, long offsetB, long ldb, long strideB,
        double beta,
        BackendBuffer c, long offsetC, long ldc, long strideC,
        long batchCount,
        DType inputType, int zeroPointA, int zeroPointB) {

    /** A call whose A, B and C all hold {@code dtype}. */
    public GemmCall(DType dtype, Transpose transA, Transpose transB, long m, long n, long k, double alpha,
                    BackendBuffer a, long offsetA, long lda, long strideA,
                    BackendBuffer b, long offsetB, long ldb, long strideB,
                    double beta, BackendBuffer c, long offsetC, long ldc, long strideC, long batchCount) {
        this(dtype, transA, transB, m, n, k, alpha, a, offsetA, lda, strideA, b, offsetB, ldb, strideB,
                beta, c, offsetC, ldc, strideC, batchCount, dtype, 0, 0);
    }

    /** The same call on other buffers (for decorators that wrap a backend's buffers). */
    public GemmCall withBuffers(BackendBuffer a, BackendBuffer b, BackendBuffer c) {
        return new GemmCall(dtype, transA, transB, m, n, k, alpha, a, offsetA, lda, strideA, b, offsetB, ldb, strideB,
                beta, c, offsetC, ldc, strideC, batchCount, inputType, zeroPointA, zeroPointB);
    }

    /** True when A and B hold another type than C (BF16/F16 → F32, I8 → I32). */
    public boolean mixed() { return inputType != dtype; }

    /**
     * The class of shapes a backend that chooses among routines by timing decides once for: the type
     * pair, the transposes and the binary magnitudes of m, n and k. Not the batch count (a batch's
     * items are single calls), not offsets or leading dimensions.
     */
    public long shapeClass() {
        return ((long) inputType.ordinal() << 60) | ((long) dtype.ordinal() << 56) | ((long) transA.ordinal() << 52)
                | ((long) transB.ordinal() << 48) | ((long) (64 - Long.numberOfLeadingZeros(m)) << 32)
                | ((long) (64 - Long.numberOfLeadingZeros(n)) << 16) | (64 - Long.numberOfLeadingZeros(Math.max(1, k)));
    }
}
