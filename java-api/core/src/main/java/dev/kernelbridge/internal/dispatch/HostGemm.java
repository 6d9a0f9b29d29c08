package dev.kernelbridge.internal.dispatch;

import dev.kernelbridge.DType;
import dev.kernelbridge.spi.Convert;
import dev.kernelbridge.Transpose;
import dev.kernelbridge.spi.BackendBuffer;
import dev.kernelbridge.spi.GemmCall;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A checked GEMM on host memory in the column-major form of {@link GemmCall} (offsets, leading
 * dimensions and strides in elements; A and B hold {@code inputType}, C holds {@code dtype}), and the pieces it can be cut into: row blocks, column
 * blocks and batch ranges are the same memory at other offsets.
 */
public record HostGemm(DType dtype, Transpose transA, Transpose transB, long m, long n, long k, double alpha,
                       MemorySegment a, long offsetA, long lda, long strideA,
                       MemorySegment b, long offsetB, long ldb, long strideB,
                       double beta, MemorySegment c, long offsetC, long ldc, long strideC, long batchCount,
                       DType inputType, int zeroPointA, int zeroPointB) {

    /** A GEMM whose A, B and C all hold {@code dtype}. */
    public HostGemm(DType dtype, Transpose transA, Transpose transB, long m, long n, long k, double alpha,
                    MemorySegment a, long offsetA, long lda, long strideA,
                    MemorySegment b, long offsetB, long ldb, long strideB,
                    double beta, MemorySegment c, long offsetC, long ldc, long strideC, long batchCount) {
        this(dtype, transA, transB, m, n, k, alpha, a, offsetA, lda, strideA, b, offsetB, ldb, strideB,
                beta, c, offsetC, ldc, strideC, batchCount, dtype, 0, 0);
    }

    public double flops() { return 2.0 * m * n * Math.max(k, 1) * batchCount; }

    /** Rows [from, to) of C. */
    HostGemm rows(long from, long to) {
        long offA = offsetA + (transA == Transpose.NO_TRANS ? from : from * lda);
        return new HostGemm(dtype, transA, transB, to - from, n, k, alpha, a, offA, lda, strideA, b, offsetB, ldb, strideB,
                beta, c, offsetC + from, ldc, strideC, batchCount, inputType, zeroPointA, zeroPointB);
    }

    /** Columns [from, to) of C. */
    HostGemm columns(long from, long to) {
        long offB = offsetB + (transB == Transpose.NO_TRANS ? from * ldb : from);
        return new HostGemm(dtype, transA, transB, m, to - from, k, alpha, a, offsetA, lda, strideA, b, offB, ldb, strideB,
                beta, c, offsetC + from * ldc, ldc, strideC, batchCount, inputType, zeroPointA, zeroPointB);
    }

    /** Batch items [from, to). */
    HostGemm batches(long from, long to) {
        return new HostGemm(dtype, transA, transB, m, n, k, alpha, a, offsetA + from * strideA, lda, strideA,
                b, offsetB + from * strideB, ldb, strideB, beta, c, offsetC + from * strideC, ldc, strideC, to - from,
                inputType, zeroPointA, zeroPointB);
    }

    /** Elements from A's first to one past its last (0 when A is not read). */
    long spanA() {
        return k == 0 ? 0 : span(transA == Transpose.NO_TRANS ? m : k, transA == Transpose.NO_TRANS ? k : m, lda, strideA);
    }

    long spanB() {
        return k == 0 ? 0 : span(transB == Transpose.NO_TRANS ? k : n, transB == Transpose.NO_TRANS ? n : k, ldb, strideB);
    }

    long spanC() { return span(m, n, ldc, strideC); }

    private long span(long rows, long cols, long ld, long stride) {
        if (rows == 0 || cols == 0 || batchCount == 0) {
            return 0; // an empty operand (an empty group of a grouped GEMM) reads nothing, wherever it starts
        }
        return stride * (batchCount - 1) + ld * (cols - 1) + rows;
    }

    /** The call with each operand in its own buffer whose element 0 is the operand's first element. */
    GemmCall call(BackendBuffer bufA, BackendBuffer bufB, BackendBuffer bufC) {
        return new GemmCall(dtype, transA, transB, m, n, k, alpha, bufA, 0, lda, strideA, bufB, 0, ldb, strideB,
                beta, bufC, 0, ldc, strideC, batchCount, inputType, zeroPointA, zeroPointB);
    }

    /** The call on the caller's own memory, each buffer being a whole segment. */
    GemmCall callInPlace(BackendBuffer bufA, BackendBuffer bufB, BackendBuffer bufC) {
        return new GemmCall(dtype, transA, transB, m, n, k, alpha, bufA, offsetA, lda, strideA, bufB, offsetB, ldb, strideB,
                beta, bufC, offsetC, ldc, strideC, batchCount, inputType, zeroPointA, zeroPointB);
    }

    MemorySegment sliceA() { return slice(a, inputType, offsetA, spanA()); }

    MemorySegment sliceB() { return slice(b, inputType, offsetB, spanB()); }

    MemorySegment sliceC() { return slice(c, dtype, offsetC, spanC()); }

    private static MemorySegment slice(MemorySegment s, DType type, long offset, long elements) {
        if (elements == 0) {
            return s.asSlice(0, 0); // its offset may lie past the end: the argument checks allow that when nothing is read
        }
        return s.asSlice(offset * type.byteSize(), elements * type.byteSize());
    }

    /**
     * The same GEMM on copies of its operands in {@code arena} (each from element 0, same leading
     * dimensions and strides), for operands confined to the caller's thread: the copies may be read
     * by any thread, and the result goes back with {@code writeBack(staged.c())} on the caller's thread.
     */
    HostGemm stagedIn(Arena arena) {
        return new HostGemm(dtype, transA, transB, m, n, k, alpha, copy(arena, sliceA()), 0, lda, strideA, copy(arena, sliceB()), 0, ldb, strideB,
                beta, copy(arena, sliceC()), 0, ldc, strideC, batchCount, inputType, zeroPointA, zeroPointB);
    }

    /** A copy of {@code slice} in {@code arena}, 64-byte aligned, readable by any thread the arena allows. */
    static MemorySegment copy(Arena arena, MemorySegment slice) {
        MemorySegment s = arena.allocate(Math.max(1, slice.byteSize()), 64).asSlice(0, slice.byteSize());
        s.copyFrom(slice);
        return s;
    }

    /**
     * Copies the m×n matrices of C (not the padding between columns, which C's owner may use) from
     * {@code result}, laid out like C from element 0, into the caller's C.
     */
    void writeBack(MemorySegment result) {
        long es = dtype.byteSize();
        if (spanC() == 0) {
            return;
        }
        if (ldc == m && (batchCount == 1 || strideC == m * n)) {
            MemorySegment.copy(result, 0, c, offsetC * es, spanC() * es);
            return;
        }
        for (long item = 0; item < batchCount; item++) {
            for (long j = 0; j < n; j++) {
                long at = item * strideC + j * ldc;
                MemorySegment.copy(result, at * es, c, (offsetC + at) * es, m * es);
            }
        }
    }

    /** A fresh copy of C's span in {@code arena} (its contents when beta reads them, else unset). */
    MemorySegment stageC(Arena arena) {
        long bytes = Math.max(1, spanC()) * dtype.byteSize();
        MemorySegment s = arena.allocate(bytes, 64);
        if (beta != 0) {
            MemorySegment.copy(sliceC(), 0, s, 0, spanC() * dtype.byteSize());
        }
        return s;
    }

    /** Element (i, j) of C in batch item {@code item} of a segment laid out like C from element 0. */
    double resultAt(MemorySegment result, long item, long i, long j) {
        return Convert.get(dtype, result, item * strideC + i + j * ldc);
    }

    /** Element (i, j) of op(A), op(B) or C of the caller. */
    double opA(long item, long i, long p) {
        long at = offsetA + item * strideA + (transA == Transpose.NO_TRANS ? i + p * lda : p + i * lda);
        return Convert.get(inputType, a, at) - zeroPointA;
    }

    double opB(long item, long p, long j) {
        long at = offsetB + item * strideB + (transB == Transpose.NO_TRANS ? p + j * ldb : j + p * ldb);
        return Convert.get(inputType, b, at) - zeroPointB;
    }

    double cAt(long item, long i, long j) {
        return Convert.get(dtype, c, offsetC + item * strideC + i + j * ldc);
    }

    /** "f32", or "bf16->f32" where A and B hold another type than C. */
    public String types() { return inputType == dtype ? dtype.label() : inputType.label() + "->" + dtype.label(); }

    /** The shape class this GEMM's throughput is filed under ({@link ShapeClass}). */
    long shapeClass() { return ShapeClass.of(inputType, m, n, k, batchCount); }

    /** What {@code this} covers of {@code whole}, for events and logs. */
    String describePart(HostGemm whole) {
        if (batchCount != whole.batchCount) {
            return "batch items " + (offsetC - whole.offsetC) / Math.max(1, strideC) + "+" + batchCount;
        }
        if (n != whole.n) {
            return "columns " + (offsetC - whole.offsetC) / ldc + ".." + ((offsetC - whole.offsetC) / ldc + n);
        }
        if (m != whole.m) {
            return "rows " + (offsetC - whole.offsetC) + ".." + (offsetC - whole.offsetC + m);
        }
        return "whole";
    }
}
