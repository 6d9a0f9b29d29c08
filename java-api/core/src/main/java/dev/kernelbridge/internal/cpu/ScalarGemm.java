package dev.kernelbridge.internal.cpu;

import dev.kernelbridge.DType;
import dev.kernelbridge.Transpose;
import dev.kernelbridge.spi.GemmCall;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The reference algorithm of netlib's xGEMM (column j of C scaled by beta, then alpha·B(l, j)·A(:, l)
 * added for every l), on one thread, for JVMs where the Vector API is not enabled. Correct and slow.
 */
final class ScalarGemm implements GemmEngine {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfDouble D = ValueLayout.JAVA_DOUBLE_UNALIGNED;

    @Override
    public void run(GemmCall call, MemorySegment a, MemorySegment b, MemorySegment c) {
        if (call.k() == 0) {
            BlockedGemm.scale(call, c);
            return;
        }
        for (long item = 0; item < call.batchCount(); item++) {
            if (call.dtype() == DType.F32) {
                f32(call, item, a, b, c);
            } else {
                f64(call, item, a, b, c);
            }
        }
    }

    private static void f32(GemmCall x, long item, MemorySegment a, MemorySegment b, MemorySegment c) {
        long offA = x.offsetA() + item * x.strideA(), offB = x.offsetB() + item * x.strideB(), offC = x.offsetC() + item * x.strideC();
        float alpha = (float) x.alpha(), beta = (float) x.beta();
        for (long j = 0; j < x.n(); j++) {
            long col = offC + j * x.ldc();
            for (long i = 0; i < x.m(); i++) {
                c.setAtIndex(F, col + i, beta == 0 ? 0f : c.getAtIndex(F, col + i) * beta);
            }
            for (long l = 0; l < x.k(); l++) {
                float t = alpha * b.getAtIndex(F, index(offB, x.ldb(), x.transB(), l, j));
                for (long i = 0; i < x.m(); i++) {
                    c.setAtIndex(F, col + i, Math.fma(t, a.getAtIndex(F, index(offA, x.lda(), x.transA(), i, l)), c.getAtIndex(F, col + i)));
                }
            }
        }
    }

    private static void f64(GemmCall x, long item, MemorySegment a, MemorySegment b, MemorySegment c) {
        long offA = x.offsetA() + item * x.strideA(), offB = x.offsetB() + item * x.strideB(), offC = x.offsetC() + item * x.strideC();
        double alpha = x.alpha(), beta = x.beta();
        for (long j = 0; j < x.n(); j++) {
            long col = offC + j * x.ldc();
            for (long i = 0; i < x.m(); i++) {
                c.setAtIndex(D, col + i, beta == 0 ? 0d : c.getAtIndex(D, col + i) * beta);
            }
            for (long l = 0; l < x.k(); l++) {
                double t = alpha * b.getAtIndex(D, index(offB, x.ldb(), x.transB(), l, j));
                for (long i = 0; i < x.m(); i++) {
                    c.setAtIndex(D, col + i, Math.fma(t, a.getAtIndex(D, index(offA, x.lda(), x.transA(), i, l)), c.getAtIndex(D, col + i)));
                }
            }
        }
    }

    /** Index of op(X)(row, col) in a column-major X. */
    private static long index(long offset, long ld, Transpose t, long row, long col) {
        return t == Transpose.TRANS ? offset + col + row * ld : offset + row + col * ld;
    }
}
