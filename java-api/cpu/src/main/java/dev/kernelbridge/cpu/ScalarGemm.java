package dev.kernelbridge.cpu;

import dev.kernelbridge.DType;
import dev.kernelbridge.Transpose;
import dev.kernelbridge.spi.Convert;
import dev.kernelbridge.spi.GemmCall;
import java.lang.foreign.MemorySegment;

/**
 * The reference algorithm of netlib's xGEMM (column j of C scaled by beta, then alpha·B(l, j)·A(:, l)
 * added for every l), on one thread, for JVMs where the Vector API is not enabled. Correct and slow.
 * Every type computes as the vector path does: F64 in double, F32/BF16/F16 in float (C rounded
 * once at the end), I8 in wrapping i32.
 */
final class ScalarGemm implements GemmEngine {

    @Override
    public void run(GemmCall call, MemorySegment a, MemorySegment b, MemorySegment c) {
        if (call.k() == 0) {
            BlockedGemm.scale(call, c);
            return;
        }
        for (long item = 0; item < call.batchCount(); item++) {
            switch (call.inputType()) {
                case F64 -> f64(call, item, a, b, c);
                case I8 -> i8(call, item, a, b, c);
                default -> f32(call, item, a, b, c);
            }
        }
    }

    private static void f32(GemmCall x, long item, MemorySegment a, MemorySegment b, MemorySegment c) {
        long offA = x.offsetA() + item * x.strideA(), offB = x.offsetB() + item * x.strideB(), offC = x.offsetC() + item * x.strideC();
        float alpha = (float) x.alpha(), beta = (float) x.beta();
        float[] col = new float[(int) x.m()];
        for (long j = 0; j < x.n(); j++) {
            long at = offC + j * x.ldc();
            for (int i = 0; i < col.length; i++) {
                col[i] = beta == 0 ? 0f : (float) Convert.get(x.dtype(), c, at + i) * beta;
            }
            for (long l = 0; l < x.k(); l++) {
                float t = alpha * (float) Convert.get(x.inputType(), b, index(offB, x.ldb(), x.transB(), l, j));
                for (int i = 0; i < col.length; i++) {
                    col[i] = Math.fma(t, (float) Convert.get(x.inputType(), a, index(offA, x.lda(), x.transA(), i, l)), col[i]);
                }
            }
            Convert.fromFloats(x.dtype(), col, 0, c, at, col.length);
        }
    }

    private static void f64(GemmCall x, long item, MemorySegment a, MemorySegment b, MemorySegment c) {
        long offA = x.offsetA() + item * x.strideA(), offB = x.offsetB() + item * x.strideB(), offC = x.offsetC() + item * x.strideC();
        double alpha = x.alpha(), beta = x.beta();
        for (long j = 0; j < x.n(); j++) {
            long col = offC + j * x.ldc();
            for (long i = 0; i < x.m(); i++) {
                Convert.set(DType.F64, c, col + i, beta == 0 ? 0d : Convert.get(DType.F64, c, col + i) * beta);
            }
            for (long l = 0; l < x.k(); l++) {
                double t = alpha * Convert.get(DType.F64, b, index(offB, x.ldb(), x.transB(), l, j));
                for (long i = 0; i < x.m(); i++) {
                    double v = Math.fma(t, Convert.get(DType.F64, a, index(offA, x.lda(), x.transA(), i, l)), Convert.get(DType.F64, c, col + i));
                    Convert.set(DType.F64, c, col + i, v);
                }
            }
        }
    }

    private static void i8(GemmCall x, long item, MemorySegment a, MemorySegment b, MemorySegment c) {
        long offA = x.offsetA() + item * x.strideA(), offB = x.offsetB() + item * x.strideB(), offC = x.offsetC() + item * x.strideC();
        int alpha = (int) x.alpha(), beta = (int) x.beta();
        for (long j = 0; j < x.n(); j++) {
            for (long i = 0; i < x.m(); i++) {
                int sum = 0;
                for (long l = 0; l < x.k(); l++) {
                    int av = (int) Convert.get(DType.I8, a, index(offA, x.lda(), x.transA(), i, l)) - x.zeroPointA();
                    int bv = (int) Convert.get(DType.I8, b, index(offB, x.ldb(), x.transB(), l, j)) - x.zeroPointB();
                    sum += av * bv;
                }
                long at = offC + i + j * x.ldc();
                int old = beta == 0 ? 0 : (int) Convert.get(DType.I32, c, at);
                Convert.set(DType.I32, c, at, beta * old + alpha * sum);
            }
        }
    }

    /** Index of op(X)(row, col) in a column-major X. */
    private static long index(long offset, long ld, Transpose t, long row, long col) {
        return t == Transpose.TRANS ? offset + col + row * ld : offset + row + col * ld;
    }
}
