// GENERATED from src/template/dev/kernelbridge/cpu/SmallVectorGemm.java.template by
// ci/generate-sources; edit the template, not this file (GeneratedSourcesTest checks they agree).
package dev.kernelbridge.cpu;

import dev.kernelbridge.DType;
import dev.kernelbridge.Transpose;
import dev.kernelbridge.spi.Convert;
import dev.kernelbridge.spi.GemmCall;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * double GEMM for shapes where packing does not pay (the idea of LIBXSMM and BLIS's "sup" path): one
 * batch item at a time on the calling thread, k in one slice. op(A), op(B) and C are each copied once,
 * whole, into double arrays of their own shape (one bulk copy each when the operand is contiguous),
 * converting storage types and subtracting zero points on the way, exactly as the packed path does,
 * so results have the same rounding (one F32 or F64 sum per element, C rounded once). Register tiles of
 * 2V×8 and V×8 keep sixteen or eight accumulators in flight; rows past the last whole vector are
 * masked rather than padded, so nothing is copied twice and no lane computes zeros into a copy.
 */
final class SmallVectorGemmF64 implements SmallKernel {
    private static final VectorSpecies<Double> S = DoubleVector.SPECIES_PREFERRED;
    private static final int V = S.length();
    private static final int NR = 4;

    @Override
    public void run(GemmCall call, MemorySegment a, MemorySegment b, MemorySegment c, long item, long j0, long j1, Scratch s) {
        int m = (int) call.m(), n = (int) (j1 - j0), k = (int) call.k();
        DType in = call.inputType(), out = call.dtype();
        double[] ap = copyA(s, in, call.zeroPointA(), a, call.offsetA() + item * call.strideA(), call.lda(),
                call.transA() == Transpose.TRANS, m, k);
        // op(B)'s columns [j0, j1) as a plain copy: column-major (p fastest) for N, row-major (j fastest) for T.
        boolean transB = call.transB() == Transpose.TRANS;
        long offB = call.offsetB() + item * call.strideB() + (transB ? j0 : j0 * call.ldb());
        double[] bp = copyB(s, in, call.zeroPointB(), b, offB, call.ldb(), transB, n, k);
        int sp = transB ? n : 1, sj = transB ? 1 : k;
        long offC = call.offsetC() + item * call.strideC() + j0 * call.ldc();
        // I32 results: the tiles sum exactly from zero; beta and alpha are applied as integers at the end.
        double beta = out == DType.I32 ? 0 : call.beta();
        double[] cs = loadC(s, out, c, offC, call.ldc(), m, n, beta);
        multiply(ap, bp, sp, sj, cs, m, n, k, (double) (out == DType.I32 ? 1 : call.alpha()));
        storeC(s, out, cs, c, offC, call.ldc(), m, n, call.alpha(), call.beta());
    }

    /**
     * op(A) as m×k column-major, with V spare elements at the end: a tail tile loads whole vectors of
     * A (lanes past row m read the next column, or the spare), and only its C update is masked, so
     * those lanes never reach C. Unmasked loads keep the inner loop as lean as a full tile's.
     */
    private static double[] copyA(Scratch s, DType type, int zeroPoint, MemorySegment a, long offset, long ld, boolean trans,
                                  int m, int k) {
        double[] ap = s.doubleA(m * k + V);
        if (!trans) {
            copyRuns(type, a, offset, ld, ap, m, k);
            shift(ap, 0, m * k, zeroPoint);
            return ap;
        }
        // Row i of op(A) is contiguous over p: read it whole, then deal it into the columns.
        double[] row = s.doubleColumn(k);
        for (int i = 0; i < m; i++) {
            Convert.toDoubles(type, a, offset + i * ld, row, 0, k);
            shift(row, 0, k, zeroPoint);
            for (int p = 0; p < k; p++) {
                ap[i + p * m] = row[p];
            }
        }
        return ap;
    }

    /** B as stored, k×n: columns of k for N, rows of n for T, so each read is one contiguous run. */
    private static double[] copyB(Scratch s, DType type, int zeroPoint, MemorySegment b, long offset, long ld, boolean trans,
                                  int n, int k) {
        double[] bp = s.doubleB(n * k);
        int runs = trans ? k : n, run = trans ? n : k;
        copyRuns(type, b, offset, ld, bp, run, runs);
        shift(bp, 0, run * runs, zeroPoint);
        return bp;
    }

    /** {@code runs} runs of {@code run} elements, {@code ld} apart in the source, packed together: one bulk copy when contiguous. */
    private static void copyRuns(DType type, MemorySegment src, long offset, long ld, double[] dst, int run, int runs) {
        if (ld == run) {
            Convert.toDoubles(type, src, offset, dst, 0, run * runs);
            return;
        }
        for (int r = 0; r < runs; r++) {
            Convert.toDoubles(type, src, offset + r * ld, dst, r * run, run);
        }
    }

    /** x − zeroPoint for every copied value; I8 differences are exact in any float type. */
    private static void shift(double[] values, int at, int n, int zeroPoint) {
        if (zeroPoint != 0) {
            for (int i = at; i < at + n; i++) {
                values[i] -= zeroPoint;
            }
        }
    }

    /** beta·C as m×n column-major in the computation type; beta == 0 never reads C (NaN and Inf do not survive). */
    private static double[] loadC(Scratch s, DType type, MemorySegment c, long offset, long ld, int m, int n, double betaIn) {
        double[] cs = s.doubleStrip(m * n + V);
        double beta = (double) betaIn;
        if (beta == 0) {
            Arrays.fill(cs, 0, m * n, 0);
            return cs;
        }
        copyRuns(type, c, offset, ld, cs, m, n);
        if (beta != 1) {
            for (int i = 0; i < m * n; i++) {
                cs[i] *= beta;
            }
        }
        return cs;
    }

    /** C := cs, rounded once to C's type; for I32, C := beta·C + alpha·cs in wrapping integer arithmetic. */
    private static void storeC(Scratch s, DType type, double[] cs, MemorySegment c, long offset, long ld, int m, int n,
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
                    column[i] = bt * column[i] + al * (int) cs[j * m + i];
                }
                MemorySegment.copy(column, 0, c, ValueLayout.JAVA_INT_UNALIGNED, at, m);
            }
            return;
        }
        if (ld == m) {
            Convert.fromDoubles(type, cs, 0, c, offset, m * n);
            return;
        }
        for (int j = 0; j < n; j++) {
            Convert.fromDoubles(type, cs, j * m, c, offset + j * ld, m);
        }
    }

    /** cs += alpha·ap·op(B), all m×… column-major with leading dimension m, op(B)(p, j) at bp[p·sp + j·sj]. */
    private static void multiply(double[] ap, double[] bp, int sp, int sj, double[] cs, int m, int n, int k, double alpha) {
        // Eight columns a step where they are there: sixteen (2V rows) or eight (V rows) accumulators
        // keep both FMA pipes busy through their latency; the last columns go four and then one at a time.
        int j = 0;
        for (; j + 8 <= n; j += 8) {
            int i = 0;
            for (; i + 2 * V <= m; i += 2 * V) {
                tile2x8(ap, bp, sp, sj, cs, m, k, alpha, i, j);
            }
            for (; i < m; i += V) {
                tile1x8(ap, bp, sp, sj, cs, m, k, alpha, i, j);
            }
        }
        for (; j + 4 <= n; j += 4) {
            int i = 0;
            for (; i + 2 * V <= m; i += 2 * V) {
                tile2x4(ap, bp, sp, sj, cs, m, k, alpha, i, j);
            }
            for (; i < m; i += V) {
                tile1x4(ap, bp, sp, sj, cs, m, k, alpha, i, j);
            }
        }
        for (; j < n; j++) {
            for (int i = 0; i < m; i += V) {
                tile1x1(ap, bp, sp, sj, cs, m, k, alpha, i, j);
            }
        }
    }

    private static void tile2x8(double[] ap, double[] bp, int sp, int sj, double[] cs, int m, int k, double alpha, int i, int j) {
        DoubleVector zero = DoubleVector.zero(S);
        DoubleVector c00 = zero, c10 = zero, c01 = zero, c11 = zero, c02 = zero, c12 = zero, c03 = zero, c13 = zero;
        DoubleVector c04 = zero, c14 = zero, c05 = zero, c15 = zero, c06 = zero, c16 = zero, c07 = zero, c17 = zero;
        int b0 = j * sj;
        for (int p = 0; p < k; p++) {
            int ai = i + p * m, bi = p * sp + b0;
            DoubleVector a0 = DoubleVector.fromArray(S, ap, ai);
            DoubleVector a1 = DoubleVector.fromArray(S, ap, ai + V);
            DoubleVector b = DoubleVector.broadcast(S, bp[bi]);
            c00 = a0.fma(b, c00);
            c10 = a1.fma(b, c10);
            b = DoubleVector.broadcast(S, bp[bi + sj]);
            c01 = a0.fma(b, c01);
            c11 = a1.fma(b, c11);
            b = DoubleVector.broadcast(S, bp[bi + 2 * sj]);
            c02 = a0.fma(b, c02);
            c12 = a1.fma(b, c12);
            b = DoubleVector.broadcast(S, bp[bi + 3 * sj]);
            c03 = a0.fma(b, c03);
            c13 = a1.fma(b, c13);
            b = DoubleVector.broadcast(S, bp[bi + 4 * sj]);
            c04 = a0.fma(b, c04);
            c14 = a1.fma(b, c14);
            b = DoubleVector.broadcast(S, bp[bi + 5 * sj]);
            c05 = a0.fma(b, c05);
            c15 = a1.fma(b, c15);
            b = DoubleVector.broadcast(S, bp[bi + 6 * sj]);
            c06 = a0.fma(b, c06);
            c16 = a1.fma(b, c16);
            b = DoubleVector.broadcast(S, bp[bi + 7 * sj]);
            c07 = a0.fma(b, c07);
            c17 = a1.fma(b, c17);
        }
        DoubleVector va = DoubleVector.broadcast(S, alpha);
        int at = i + j * m;
        update(cs, at, c00, va);
        update(cs, at + V, c10, va);
        at += m;
        update(cs, at, c01, va);
        update(cs, at + V, c11, va);
        at += m;
        update(cs, at, c02, va);
        update(cs, at + V, c12, va);
        at += m;
        update(cs, at, c03, va);
        update(cs, at + V, c13, va);
        at += m;
        update(cs, at, c04, va);
        update(cs, at + V, c14, va);
        at += m;
        update(cs, at, c05, va);
        update(cs, at + V, c15, va);
        at += m;
        update(cs, at, c06, va);
        update(cs, at + V, c16, va);
        at += m;
        update(cs, at, c07, va);
        update(cs, at + V, c17, va);
    }

    /** V rows from i (fewer at the tail, masked) × 8 columns. */
    private static void tile1x8(double[] ap, double[] bp, int sp, int sj, double[] cs, int m, int k, double alpha, int i, int j) {
        VectorMask<Double> rows = S.indexInRange(i, m);
        DoubleVector zero = DoubleVector.zero(S);
        DoubleVector c0 = zero, c1 = zero, c2 = zero, c3 = zero, c4 = zero, c5 = zero, c6 = zero, c7 = zero;
        int b0 = j * sj;
        for (int p = 0; p < k; p++) {
            int bi = p * sp + b0;
            DoubleVector a0 = DoubleVector.fromArray(S, ap, i + p * m);
            c0 = a0.fma(DoubleVector.broadcast(S, bp[bi]), c0);
            c1 = a0.fma(DoubleVector.broadcast(S, bp[bi + sj]), c1);
            c2 = a0.fma(DoubleVector.broadcast(S, bp[bi + 2 * sj]), c2);
            c3 = a0.fma(DoubleVector.broadcast(S, bp[bi + 3 * sj]), c3);
            c4 = a0.fma(DoubleVector.broadcast(S, bp[bi + 4 * sj]), c4);
            c5 = a0.fma(DoubleVector.broadcast(S, bp[bi + 5 * sj]), c5);
            c6 = a0.fma(DoubleVector.broadcast(S, bp[bi + 6 * sj]), c6);
            c7 = a0.fma(DoubleVector.broadcast(S, bp[bi + 7 * sj]), c7);
        }
        DoubleVector va = DoubleVector.broadcast(S, alpha);
        int at = i + j * m;
        update(cs, at, c0, va, rows);
        at += m;
        update(cs, at, c1, va, rows);
        at += m;
        update(cs, at, c2, va, rows);
        at += m;
        update(cs, at, c3, va, rows);
        at += m;
        update(cs, at, c4, va, rows);
        at += m;
        update(cs, at, c5, va, rows);
        at += m;
        update(cs, at, c6, va, rows);
        at += m;
        update(cs, at, c7, va, rows);
    }

    private static void tile2x4(double[] ap, double[] bp, int sp, int sj, double[] cs, int m, int k, double alpha, int i, int j) {
        DoubleVector zero = DoubleVector.zero(S);
        DoubleVector c00 = zero, c10 = zero, c01 = zero, c11 = zero, c02 = zero, c12 = zero, c03 = zero, c13 = zero;
        int b0 = j * sj, b1 = b0 + sj, b2 = b1 + sj, b3 = b2 + sj;
        for (int p = 0; p < k; p++) {
            int ai = i + p * m, bi = p * sp;
            DoubleVector a0 = DoubleVector.fromArray(S, ap, ai);
            DoubleVector a1 = DoubleVector.fromArray(S, ap, ai + V);
            DoubleVector b = DoubleVector.broadcast(S, bp[bi + b0]);
            c00 = a0.fma(b, c00);
            c10 = a1.fma(b, c10);
            b = DoubleVector.broadcast(S, bp[bi + b1]);
            c01 = a0.fma(b, c01);
            c11 = a1.fma(b, c11);
            b = DoubleVector.broadcast(S, bp[bi + b2]);
            c02 = a0.fma(b, c02);
            c12 = a1.fma(b, c12);
            b = DoubleVector.broadcast(S, bp[bi + b3]);
            c03 = a0.fma(b, c03);
            c13 = a1.fma(b, c13);
        }
        DoubleVector va = DoubleVector.broadcast(S, alpha);
        int at = i + j * m;
        update(cs, at, c00, va);
        update(cs, at + V, c10, va);
        at += m;
        update(cs, at, c01, va);
        update(cs, at + V, c11, va);
        at += m;
        update(cs, at, c02, va);
        update(cs, at + V, c12, va);
        at += m;
        update(cs, at, c03, va);
        update(cs, at + V, c13, va);
    }

    /** V rows from i (fewer at the tail, masked) × 4 columns. The mask is made here: passed in, it would be boxed. */
    private static void tile1x4(double[] ap, double[] bp, int sp, int sj, double[] cs, int m, int k, double alpha, int i, int j) {
        VectorMask<Double> rows = S.indexInRange(i, m);
        DoubleVector zero = DoubleVector.zero(S);
        DoubleVector c0 = zero, c1 = zero, c2 = zero, c3 = zero;
        int b0 = j * sj, b1 = b0 + sj, b2 = b1 + sj, b3 = b2 + sj;
        for (int p = 0; p < k; p++) {
            int bi = p * sp;
            DoubleVector a0 = DoubleVector.fromArray(S, ap, i + p * m);
            c0 = a0.fma(DoubleVector.broadcast(S, bp[bi + b0]), c0);
            c1 = a0.fma(DoubleVector.broadcast(S, bp[bi + b1]), c1);
            c2 = a0.fma(DoubleVector.broadcast(S, bp[bi + b2]), c2);
            c3 = a0.fma(DoubleVector.broadcast(S, bp[bi + b3]), c3);
        }
        DoubleVector va = DoubleVector.broadcast(S, alpha);
        int at = i + j * m;
        update(cs, at, c0, va, rows);
        at += m;
        update(cs, at, c1, va, rows);
        at += m;
        update(cs, at, c2, va, rows);
        at += m;
        update(cs, at, c3, va, rows);
    }

    private static void tile1x1(double[] ap, double[] bp, int sp, int sj, double[] cs, int m, int k, double alpha, int i, int j) {
        VectorMask<Double> rows = S.indexInRange(i, m);
        DoubleVector acc = DoubleVector.zero(S);
        int b0 = j * sj;
        for (int p = 0; p < k; p++) {
            acc = DoubleVector.fromArray(S, ap, i + p * m).fma(DoubleVector.broadcast(S, bp[p * sp + b0]), acc);
        }
        int at = i + j * m;
        update(cs, at, acc, DoubleVector.broadcast(S, alpha), rows);
    }

    /*
     * The C updates are methods of their own: written out in each tile they make the tiles too large
     * for C1, which then gives up on them ("out of virtual registers"), and the tiered JIT may leave
     * them in slow code for good; C2 inlines these back.
     */
    private static void update(double[] cs, int at, DoubleVector acc, DoubleVector alpha) {
        acc.fma(alpha, DoubleVector.fromArray(S, cs, at)).intoArray(cs, at);
    }

    private static void update(double[] cs, int at, DoubleVector acc, DoubleVector alpha, VectorMask<Double> rows) {
        acc.fma(alpha, DoubleVector.fromArray(S, cs, at, rows)).intoArray(cs, at, rows);
    }
}
