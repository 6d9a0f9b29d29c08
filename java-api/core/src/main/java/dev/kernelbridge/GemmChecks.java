package dev.kernelbridge;

import dev.kernelbridge.spi.BackendBuffer;
import dev.kernelbridge.spi.GemmCall;

/**
 * The one place where GEMM arguments are checked, for device buffers and for the host facade alike,
 * so every backend fails with the same words. Order follows netlib's xGEMM (transA, transB, m, n, k,
 * lda, ldb, ldc), then batch, then the memory behind each operand. Nothing here writes anything.
 */
final class GemmChecks {
    private GemmChecks() { }

    /**
     * Memory behind one operand. {@code memory} is null when the caller passed null; two operands
     * with the same {@code memory} share storage and {@code baseByte} places them in it.
     */
    record Region(String name, Object memory, long baseByte, long length, DType dtype, long offset, long ld, long stride) { }

    /**
     * Throws IllegalArgumentException naming the first bad argument.
     * Returns false when BLAS says to return at once, without touching anything.
     */
    static boolean check(Layout layout, Transpose transA, Transpose transB, long m, long n, long k,
                         double alpha, double beta, Region a, Region b, Region c, long batchCount, int zeroPointA, int zeroPointB) {
        if (layout == null) {
            throw new IllegalArgumentException("layout must not be null");
        }
        if (transA == null) {
            throw new IllegalArgumentException("transA must not be null");
        }
        if (transB == null) {
            throw new IllegalArgumentException("transB must not be null");
        }
        if (m < 0) {
            throw new IllegalArgumentException("m must be >= 0, got " + m);
        }
        if (n < 0) {
            throw new IllegalArgumentException("n must be >= 0, got " + n);
        }
        if (k < 0) {
            throw new IllegalArgumentException("k must be >= 0, got " + k);
        }
        long rowsA = GemmOp.rowsOf(transA, m, k), colsA = GemmOp.colsOf(transA, m, k);
        long rowsB = GemmOp.rowsOf(transB, k, n), colsB = GemmOp.colsOf(transB, k, n);
        checkLd("lda", a.ld(), layout, rowsA, colsA);
        checkLd("ldb", b.ld(), layout, rowsB, colsB);
        checkLd("ldc", c.ld(), layout, m, n);
        if (batchCount < 0) {
            throw new IllegalArgumentException("batchCount must be >= 0, got " + batchCount);
        }

        for (Region r : new Region[] {a, b, c}) {
            if (r.memory() == null) {
                throw new IllegalArgumentException(r.name() + " must not be null");
            }
        }
        checkTypes(a.dtype(), b.dtype(), c.dtype(), alpha, beta, zeroPointA, zeroPointB);

        long footA = footprint(layout, rowsA, colsA, a.ld());
        long footB = footprint(layout, rowsB, colsB, b.ld());
        long footC = footprint(layout, m, n, c.ld());
        if (batchCount > 1 && footC > 0) {
            if (c.stride() < footC) {
                throw new IllegalArgumentException("strideC must be >= the extent of one C (" + footC + ") so batch items do not overlap, got " + c.stride());
            }
        }
        long spanA = checkFits(a, footA, batchCount);
        long spanB = checkFits(b, footB, batchCount);
        long spanC = checkFits(c, footC, batchCount);
        checkDisjoint(c, spanC, a, spanA);
        checkDisjoint(c, spanC, b, spanB);

        if (m == 0 || n == 0 || batchCount == 0) {
            return false;
        }
        return !((k == 0 || alpha == 0) && beta == 1);
    }

    /**
     * The checked call in the column-major form backends see. Row-major C = op(A)·op(B) is the same
     * memory as column-major Cᵀ = op(B)ᵀ·op(A)ᵀ, so the operands swap and the transposes stay.
     * alpha == 0 becomes k == 0 so no backend reads A or B then.
     */
    static GemmCall toCall(Layout layout, Transpose transA, Transpose transB, long m, long n, long k,
                           double alpha, double beta, Region a, BackendBuffer bufA, Region b, BackendBuffer bufB,
                           Region c, BackendBuffer bufC, long batchCount, int zeroPointA, int zeroPointB) {
        long kk = alpha == 0 ? 0 : k;
        if (layout == Layout.ROW_MAJOR) {
            return new GemmCall(c.dtype(), transB, transA, n, m, kk, alpha,
                    bufB, b.offset(), b.ld(), b.stride(),
                    bufA, a.offset(), a.ld(), a.stride(),
                    beta, bufC, c.offset(), c.ld(), c.stride(), batchCount, a.dtype(), zeroPointB, zeroPointA);
        }
        return new GemmCall(c.dtype(), transA, transB, m, n, kk, alpha,
                bufA, a.offset(), a.ld(), a.stride(),
                bufB, b.offset(), b.ld(), b.stride(),
                beta, bufC, c.offset(), c.ld(), c.stride(), batchCount, a.dtype(), zeroPointA, zeroPointB);
    }

    /** The checked call on host memory, in the same column-major form as {@link #toCall}. */
    static dev.kernelbridge.internal.dispatch.HostGemm toHost(Layout layout, Transpose transA, Transpose transB, long m, long n, long k,
                           double alpha, double beta, Region a, java.lang.foreign.MemorySegment segA, Region b,
                           java.lang.foreign.MemorySegment segB, Region c, java.lang.foreign.MemorySegment segC, long batchCount,
                           int zeroPointA, int zeroPointB) {
        long kk = alpha == 0 ? 0 : k;
        if (layout == Layout.ROW_MAJOR) {
            return new dev.kernelbridge.internal.dispatch.HostGemm(c.dtype(), transB, transA, n, m, kk, alpha,
                    segB, b.offset(), b.ld(), b.stride(), segA, a.offset(), a.ld(), a.stride(),
                    beta, segC, c.offset(), c.ld(), c.stride(), batchCount, a.dtype(), zeroPointB, zeroPointA);
        }
        return new dev.kernelbridge.internal.dispatch.HostGemm(c.dtype(), transA, transB, m, n, kk, alpha,
                segA, a.offset(), a.ld(), a.stride(), segB, b.offset(), b.ld(), b.stride(),
                beta, segC, c.offset(), c.ld(), c.stride(), batchCount, a.dtype(), zeroPointA, zeroPointB);
    }

    private static final java.util.List<DType> TO_F32 = java.util.List.of(DType.F32), TO_F64 = java.util.List.of(DType.F64),
            TO_BF16_OR_F32 = java.util.List.of(DType.BF16, DType.F32), TO_F16_OR_F32 = java.util.List.of(DType.F16, DType.F32),
            TO_I32 = java.util.List.of(DType.I32);

    /** The type pairs of {@link dev.kernelbridge.spi.GemmCall}, with the integer rules of I8. */
    static void checkTypes(DType a, DType b, DType c, double alpha, double beta, int zeroPointA, int zeroPointB) {
        if (b != a) {
            throw new IllegalArgumentException("b must have the element type of a (" + a.label() + "), got " + b.label());
        }
        java.util.List<DType> outputs = switch (a) {
            case F32 -> TO_F32;
            case F64 -> TO_F64;
            case BF16 -> TO_BF16_OR_F32;
            case F16 -> TO_F16_OR_F32;
            case I8 -> TO_I32;
            case I32 -> throw new IllegalArgumentException("a must be a GEMM input type (f32, f64, bf16, f16 or i8), got i32");
        };
        if (!outputs.contains(c)) {
            throw new IllegalArgumentException("c must be " + outputs.stream().map(DType::label).collect(java.util.stream.Collectors.joining(" or "))
                    + " for " + a.label() + " inputs, got " + c.label());
        }
        if (a == DType.I8) {
            requireInt32("alpha", alpha);
            requireInt32("beta", beta);
            requireZeroPoint("zeroPointA", zeroPointA);
            requireZeroPoint("zeroPointB", zeroPointB);
        } else if (zeroPointA != 0 || zeroPointB != 0) {
            throw new IllegalArgumentException("zero points need i8 inputs, got zeroPointA " + zeroPointA + " and zeroPointB " + zeroPointB
                    + " with " + a.label());
        }
    }

    private static void requireInt32(String name, double value) {
        if (!(value == Math.rint(value) && value >= Integer.MIN_VALUE && value <= Integer.MAX_VALUE)) {
            throw new IllegalArgumentException(name + " must be an integer in the i32 range for i8 inputs, got " + value);
        }
    }

    private static void requireZeroPoint(String name, int value) {
        if (value < -128 || value > 127) {
            throw new IllegalArgumentException(name + " must be in [-128, 127], got " + value);
        }
    }

    private static void checkLd(String name, long ld, Layout layout, long rows, long cols) {
        long min = GemmOp.tightLd(layout, rows, cols);
        if (ld < min) {
            throw new IllegalArgumentException(name + " must be >= max(1, " + (layout == Layout.ROW_MAJOR ? "columns" : "rows")
                + ") = " + min + " for a " + rows + "x" + cols + " " + layoutName(layout) + " matrix, got " + ld);
        }
    }

    private static String layoutName(Layout layout) {
        return layout == Layout.ROW_MAJOR ? "row-major" : "column-major";
    }

    /** Elements from the first to one past the last element of a stored rows×cols matrix. */
    private static long footprint(Layout layout, long rows, long cols, long ld) {
        if (rows == 0 || cols == 0) {
            return 0;
        }
        try {
            return layout == Layout.ROW_MAJOR
                    ? Math.addExact(Math.multiplyExact(ld, rows - 1), cols)
                    : Math.addExact(Math.multiplyExact(ld, cols - 1), rows);
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("the shape overflows a 64-bit element index (ld " + ld + ", " + rows + "x" + cols + ")");
        }
    }

    /** Checks offset and stride, and that every batch item lies in the buffer; returns the span in elements. */
    private static long checkFits(Region r, long foot, long batchCount) {
        String name = r.name();
        if (r.offset() < 0) {
            throw new IllegalArgumentException("offset" + suffix(name) + " must be >= 0, got " + r.offset());
        }
        if (r.stride() < 0) {
            throw new IllegalArgumentException("stride" + suffix(name) + " must be >= 0, got " + r.stride());
        }
        if (foot == 0 || batchCount == 0) {
            return 0;
        }
        long span;
        try {
            span = Math.addExact(Math.multiplyExact(r.stride(), batchCount - 1), foot);
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("stride" + suffix(name) + " * (batchCount - 1) overflows a 64-bit element index");
        }
        if (!(r.offset() <= r.length() && span <= r.length() - r.offset())) {
            throw new IllegalArgumentException(name + " is too short: offset " + r.offset() + " + extent " + span + " elements > length " + r.length());
        }
        return span;
    }

    private static void checkDisjoint(Region c, long spanC, Region other, long spanOther) {
        if (spanC == 0 || spanOther == 0 || c.memory() != other.memory()) {
            return;
        }
        long es = c.dtype().byteSize(), eo = other.dtype().byteSize();
        long c0 = c.baseByte() + c.offset() * es, c1 = c0 + spanC * es;
        long o0 = other.baseByte() + other.offset() * eo, o1 = o0 + spanOther * eo;
        if (!(c1 <= o0 || o1 <= c0)) {
            throw new IllegalArgumentException("c must not overlap " + other.name() + " (BLAS leaves that undefined)");
        }
    }

    private static String suffix(String name) {
        return name.toUpperCase(java.util.Locale.ROOT);
    }

    /**
     * The bytes [from, to) of its memory that a checked operand (a stored rows×cols matrix, or a
     * strided batch of them) spans, or null when it spans none: for the checks across the groups of
     * a grouped GEMM. Only called after {@link #check} passed, so nothing overflows.
     */
    static long[] byteRange(Layout layout, long rows, long cols, Region r, long batchCount) {
        long foot = footprint(layout, rows, cols, r.ld());
        if (foot == 0 || batchCount == 0) {
            return null;
        }
        long es = r.dtype().byteSize();
        long from = r.baseByte() + r.offset() * es;
        return new long[] {from, from + (r.stride() * (batchCount - 1) + foot) * es};
    }

    /** Null arguments are bad arguments: IllegalArgumentException, with the argument named. */
    static void requireNonNull(Object value, String message) {
        if (value == null) {
            throw new IllegalArgumentException(message);
        }
    }

    static void require(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException(message);
        }
    }
}
