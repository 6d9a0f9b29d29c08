// GENERATED from src/template/dev/kernelbridge/internal/cpu/SmallVectorGemm.java.template by
// ci/generate-sources; edit the template, not this file (GeneratedSourcesTest checks they agree).
package dev.kernelbridge.internal.cpu;

import dev.kernelbridge.DType;
import dev.kernelbridge.Transpose;
import dev.kernelbridge.internal.Convert;
import dev.kernelbridge.spi.GemmCall;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * float GEMM for shapes where packing does not pay (the idea of LIBXSMM and BLIS's "sup" path): one
 * batch item at a time on the calling thread, k in one slice. op(A) is copied once into a column-major
 * array padded to whole vectors, op(B) is read in place from a plain copy, and C moves once each way;
 * storage types convert and zero points are subtracted while copying, exactly as the packed path does,
 * so results have the same rounding (one F32 or F64 sum per element, C rounded once). A 2V×4 register
 * tile keeps eight accumulators in flight, enough to hide the FMA latency without the packed kernel's
 * 2V×12 panels, whose zero padding dominates at these sizes.
 */
final class SmallVectorGemmF32 implements SmallKernel {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int V = S.length();
    private static final int NR = 4;

    @Override
    public void run(GemmCall call, MemorySegment a, MemorySegment b, MemorySegment c, long item, long j0, long j1, Scratch s) {
        int m = (int) call.m(), n = (int) (j1 - j0), k = (int) call.k();
        int mp = BlockedGemm.roundUp(m, V);
        DType in = call.inputType(), out = call.dtype();
        float[] ap = packA(s, in, call.zeroPointA(), a, call.offsetA() + item * call.strideA(), call.lda(),
                call.transA() == Transpose.TRANS, m, mp, k);
        // op(B)'s columns [j0, j1) as a plain copy: column-major (p fastest) for N, row-major (j fastest) for T.
        boolean transB = call.transB() == Transpose.TRANS;
        long offB = call.offsetB() + item * call.strideB() + (transB ? j0 : j0 * call.ldb());
        float[] bp = copyB(s, in, call.zeroPointB(), b, offB, call.ldb(), transB, n, k);
        int sp = transB ? n : 1, sj = transB ? 1 : k;
        long offC = call.offsetC() + item * call.strideC() + j0 * call.ldc();
        // I32 results: the tiles sum exactly from zero; beta and alpha are applied as integers at the end.
        double beta = out == DType.I32 ? 0 : call.beta();
        float[] cs = loadC(s, out, c, offC, call.ldc(), m, mp, n, beta);
        multiply(ap, bp, sp, sj, cs, mp, n, k, (float) (out == DType.I32 ? 1 : call.alpha()));
        storeC(s, out, cs, c, offC, call.ldc(), m, mp, n, call.alpha(), call.beta());
    }

    /** op(A) as mp×k column-major, rows past m zero. */
    private static float[] packA(Scratch s, DType type, int zeroPoint, MemorySegment a, long offset, long ld, boolean trans,
                                  int m, int mp, int k) {
        float[] ap = s.floatA(mp * k);
        if (!trans && ld == m && mp == m) {
            Convert.toFloats(type, a, offset, ap, 0, m * k);
            shift(ap, 0, m * k, zeroPoint);
            return ap;
        }
        if (!trans) {
            // Padded columns: one read of the whole block when A is contiguous, then spread out.
            float[] block = ld == m ? s.floatColumn(m * k) : null;
            if (block != null) {
                Convert.toFloats(type, a, offset, block, 0, m * k);
            }
            for (int p = 0; p < k; p++) {
                if (block != null) {
                    System.arraycopy(block, p * m, ap, p * mp, m);
                } else {
                    Convert.toFloats(type, a, offset + p * ld, ap, p * mp, m);
                }
                shift(ap, p * mp, m, zeroPoint);
                Arrays.fill(ap, p * mp + m, (p + 1) * mp, 0);
            }
            return ap;
        }
        // Row i of op(A) is contiguous over p: read it whole, then deal it into the columns.
        float[] row = s.floatColumn(k);
        for (int i = 0; i < m; i++) {
            Convert.toFloats(type, a, offset + i * ld, row, 0, k);
            shift(row, 0, k, zeroPoint);
            for (int p = 0; p < k; p++) {
                ap[i + p * mp] = row[p];
            }
        }
        if (mp > m) {
            for (int p = 0; p < k; p++) {
                Arrays.fill(ap, p * mp + m, (p + 1) * mp, 0);
            }
        }
        return ap;
    }

    /** B as stored, k×n: columns of k for N, rows of n for T, so each read is one contiguous run. */
    private static float[] copyB(Scratch s, DType type, int zeroPoint, MemorySegment b, long offset, long ld, boolean trans,
                                  int n, int k) {
        float[] bp = s.floatB(n * k);
        int runs = trans ? k : n, run = trans ? n : k;
        if (ld == run) {
            Convert.toFloats(type, b, offset, bp, 0, run * runs);
            shift(bp, 0, run * runs, zeroPoint);
            return bp;
        }
        for (int r = 0; r < runs; r++) {
            Convert.toFloats(type, b, offset + r * ld, bp, r * run, run);
            shift(bp, r * run, run, zeroPoint);
        }
        return bp;
    }

    /** x − zeroPoint for every copied value; I8 differences are exact in any float type. */
    private static void shift(float[] values, int at, int n, int zeroPoint) {
        if (zeroPoint != 0) {
            for (int i = at; i < at + n; i++) {
                values[i] -= zeroPoint;
            }
        }
    }

    /** beta·C as mp×n column-major in the computation type; beta == 0 never reads C (NaN and Inf do not survive). */
    private static float[] loadC(Scratch s, DType type, MemorySegment c, long offset, long ld, int m, int mp, int n, double betaIn) {
        float[] cs = s.floatStrip(mp * n);
        float beta = (float) betaIn;
        if (beta == 0) {
            Arrays.fill(cs, 0, mp * n, 0);
            return cs;
        }
        if (ld == m && mp == m) {
            Convert.toFloats(type, c, offset, cs, 0, m * n);
        } else if (ld == m) {
            float[] block = s.floatColumn(m * n);
            Convert.toFloats(type, c, offset, block, 0, m * n);
            for (int j = 0; j < n; j++) {
                System.arraycopy(block, j * m, cs, j * mp, m);
            }
        } else {
            for (int j = 0; j < n; j++) {
                Convert.toFloats(type, c, offset + j * ld, cs, j * mp, m);
            }
        }
        if (beta != 1) {
            for (int i = 0; i < mp * n; i++) {
                cs[i] *= beta;
            }
        }
        return cs;
    }

    /** C := cs, rounded once to C's type; for I32, C := beta·C + alpha·cs in wrapping integer arithmetic. */
    private static void storeC(Scratch s, DType type, float[] cs, MemorySegment c, long offset, long ld, int m, int mp, int n,
                               double alpha, double beta) {
        if (type == DType.I32) {
            int al = (int) alpha, bt = (int) beta;
            int[] column = s.intColumn(m);
            for (int j = 0; j < n; j++) {
                long at = (offset + j * ld) * 4;
                if (bt == 0) {
                    Arrays.fill(column, 0, m, 0);
                } else {
                    MemorySegment.copy(c, ValueLayout.JAVA_INT_UNALIGNED, at, column, 0, m);
                }
                for (int i = 0; i < m; i++) {
                    column[i] = bt * column[i] + al * (int) cs[j * mp + i];
                }
                MemorySegment.copy(column, 0, c, ValueLayout.JAVA_INT_UNALIGNED, at, m);
            }
            return;
        }
        if (ld == m && mp == m) {
            Convert.fromFloats(type, cs, 0, c, offset, m * n);
            return;
        }
        if (ld == m) {
            float[] block = s.floatColumn(m * n);
            for (int j = 0; j < n; j++) {
                System.arraycopy(cs, j * mp, block, j * m, m);
            }
            Convert.fromFloats(type, block, 0, c, offset, m * n);
            return;
        }
        for (int j = 0; j < n; j++) {
            Convert.fromFloats(type, cs, j * mp, c, offset + j * ld, m);
        }
    }

    /** cs += alpha·ap·op(B), op(B)(p, j) at bp[p·sp + j·sj]. */
    private static void multiply(float[] ap, float[] bp, int sp, int sj, float[] cs, int mp, int n, int k, float alpha) {
        int j = 0;
        for (; j + NR <= n; j += NR) {
            int i = 0;
            for (; i + 2 * V <= mp; i += 2 * V) {
                tile2x4(ap, bp, sp, sj, cs, mp, k, alpha, i, j);
            }
            if (i < mp) {
                tile1x4(ap, bp, sp, sj, cs, mp, k, alpha, i, j);
            }
        }
        for (; j < n; j++) {
            for (int i = 0; i < mp; i += V) {
                tile1x1(ap, bp, sp, sj, cs, mp, k, alpha, i, j);
            }
        }
    }

    private static void tile2x4(float[] ap, float[] bp, int sp, int sj, float[] cs, int mp, int k, float alpha, int i, int j) {
        FloatVector zero = FloatVector.zero(S);
        FloatVector c00 = zero, c10 = zero, c01 = zero, c11 = zero, c02 = zero, c12 = zero, c03 = zero, c13 = zero;
        int b0 = j * sj, b1 = b0 + sj, b2 = b1 + sj, b3 = b2 + sj;
        for (int p = 0; p < k; p++) {
            int ai = i + p * mp, bi = p * sp;
            FloatVector a0 = FloatVector.fromArray(S, ap, ai);
            FloatVector a1 = FloatVector.fromArray(S, ap, ai + V);
            FloatVector b = FloatVector.broadcast(S, bp[bi + b0]);
            c00 = a0.fma(b, c00);
            c10 = a1.fma(b, c10);
            b = FloatVector.broadcast(S, bp[bi + b1]);
            c01 = a0.fma(b, c01);
            c11 = a1.fma(b, c11);
            b = FloatVector.broadcast(S, bp[bi + b2]);
            c02 = a0.fma(b, c02);
            c12 = a1.fma(b, c12);
            b = FloatVector.broadcast(S, bp[bi + b3]);
            c03 = a0.fma(b, c03);
            c13 = a1.fma(b, c13);
        }
        FloatVector va = FloatVector.broadcast(S, alpha);
        int at = i + j * mp;
        c00.fma(va, FloatVector.fromArray(S, cs, at)).intoArray(cs, at);
        c10.fma(va, FloatVector.fromArray(S, cs, at + V)).intoArray(cs, at + V);
        at += mp;
        c01.fma(va, FloatVector.fromArray(S, cs, at)).intoArray(cs, at);
        c11.fma(va, FloatVector.fromArray(S, cs, at + V)).intoArray(cs, at + V);
        at += mp;
        c02.fma(va, FloatVector.fromArray(S, cs, at)).intoArray(cs, at);
        c12.fma(va, FloatVector.fromArray(S, cs, at + V)).intoArray(cs, at + V);
        at += mp;
        c03.fma(va, FloatVector.fromArray(S, cs, at)).intoArray(cs, at);
        c13.fma(va, FloatVector.fromArray(S, cs, at + V)).intoArray(cs, at + V);
    }

    private static void tile1x4(float[] ap, float[] bp, int sp, int sj, float[] cs, int mp, int k, float alpha, int i, int j) {
        FloatVector zero = FloatVector.zero(S);
        FloatVector c0 = zero, c1 = zero, c2 = zero, c3 = zero;
        int b0 = j * sj, b1 = b0 + sj, b2 = b1 + sj, b3 = b2 + sj;
        for (int p = 0; p < k; p++) {
            int bi = p * sp;
            FloatVector a0 = FloatVector.fromArray(S, ap, i + p * mp);
            c0 = a0.fma(FloatVector.broadcast(S, bp[bi + b0]), c0);
            c1 = a0.fma(FloatVector.broadcast(S, bp[bi + b1]), c1);
            c2 = a0.fma(FloatVector.broadcast(S, bp[bi + b2]), c2);
            c3 = a0.fma(FloatVector.broadcast(S, bp[bi + b3]), c3);
        }
        FloatVector va = FloatVector.broadcast(S, alpha);
        int at = i + j * mp;
        c0.fma(va, FloatVector.fromArray(S, cs, at)).intoArray(cs, at);
        at += mp;
        c1.fma(va, FloatVector.fromArray(S, cs, at)).intoArray(cs, at);
        at += mp;
        c2.fma(va, FloatVector.fromArray(S, cs, at)).intoArray(cs, at);
        at += mp;
        c3.fma(va, FloatVector.fromArray(S, cs, at)).intoArray(cs, at);
    }

    private static void tile1x1(float[] ap, float[] bp, int sp, int sj, float[] cs, int mp, int k, float alpha, int i, int j) {
        FloatVector acc = FloatVector.zero(S);
        int b0 = j * sj;
        for (int p = 0; p < k; p++) {
            acc = FloatVector.fromArray(S, ap, i + p * mp).fma(FloatVector.broadcast(S, bp[p * sp + b0]), acc);
        }
        int at = i + j * mp;
        acc.fma(FloatVector.broadcast(S, alpha), FloatVector.fromArray(S, cs, at)).intoArray(cs, at);
    }
}
