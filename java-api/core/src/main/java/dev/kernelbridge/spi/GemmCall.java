package dev.kernelbridge.spi;

import dev.kernelbridge.DType;
import dev.kernelbridge.Transpose;

/**
 * A checked GEMM in column-major form: for each batch item b,
 * {@code C_b := alpha·op(A_b)·op(B_b) + beta·C_b} with op(A) m×k, op(B) k×n and C m×n, element
 * (i, j) of a matrix at {@code offset + b·stride + i + j·ld} (offsets, strides and leading
 * dimensions in elements). Row-major calls arrive here transposed.
 *
 * <p>Guarantees from the API: m, n, batchCount ≥ 1; all footprints lie inside their buffers; C does
 * not overlap A or B; all buffers hold {@code dtype}. When {@code k == 0} the call means
 * {@code C := beta·C}, A and B must not be read, and beta == 0 writes exact +0 even over NaN; the
 * API passes alpha == 0 this way too. Whenever beta == 0, C is written without being read.
 */
public record GemmCall(
        DType dtype, Transpose transA, Transpose transB,
        long m, long n, long k,
        double alpha,
        BackendBuffer a, long offsetA, long lda, long strideA,
        BackendBuffer b, long offsetB, long ldb, long strideB,
        double beta,
        BackendBuffer c, long offsetC, long ldc, long strideC,
        long batchCount) {
}
