package dev.kernelbridge.tck;

import org.junit.jupiter.api.Tag;

import dev.kernelbridge.DType;
import dev.kernelbridge.Layout;
import dev.kernelbridge.Transpose;

/**
 * The oracle: GEMM in double over host copies, with the dblat3-style error check.
 *
 * <p>Tolerance, per element: |Ĉ − C| ≤ bound·G with G = |α|·Σ|a||b| + |β|·|c| (the gauge of
 * dblat3's DMMCH) and bound = max(16·eps, 2·k·u). 16·eps is dblat3's threshold for its small
 * sizes; 2·k·u is Higham's γ_k bound for a length-k dot product, which the longer k of our sweep
 * needs. F64 results are compared against a double reference, so their bound uses F64's u and the
 * reference's own rounding (about k·2^-53·G) is inside it.
 */
public final class Reference {
    private Reference() { }

    /** Index of op(X)(i, j) in a stored matrix with the given layout, leading dimension and offset. */
    public static long index(Layout layout, Transpose t, long ld, long offset, long i, long j) {
        long r = t == Transpose.TRANS ? j : i, c = t == Transpose.TRANS ? i : j;
        return offset + (layout == Layout.ROW_MAJOR ? r * ld + c : r + c * ld);
    }

    /** Rounds alpha/beta the way an F32 GEMM sees them. */
    public static double scalar(DType dtype, double x) {
        return dtype == DType.F32 ? (float) x : x;
    }

    /** Result of comparing a GEMM's C against the reference. */
    public record Check(double worstRatio, long worstIndex, String firstProblem) {
        public boolean ok() { return firstProblem == null; }
    }

    /**
     * Compares {@code c} (after) with the reference computed from {@code a}, {@code b}, {@code c0}
     * (before); every element is one of the data arrays' doubles (F32 data already rounded).
     */
    public static Check check(DType dtype, Layout layout, Transpose ta, Transpose tb, int m, int n, int k,
                              double alpha, double beta, double[] a, long offA, long lda, double[] b, long offB, long ldb,
                              double[] c0, double[] c, long offC, long ldc) {
        double al = scalar(dtype, alpha), be = scalar(dtype, beta);
        double eps = 2 * dtype.unitRoundoff();
        double bound = Math.max(16 * eps, 2.0 * k * dtype.unitRoundoff());
        double worst = 0;
        long worstAt = -1;
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double sum = 0, gauge = 0;
                if (al != 0) {
                    for (int p = 0; p < k; p++) {
                        double x = a[(int) index(layout, ta, lda, offA, i, p)];
                        double y = b[(int) index(layout, tb, ldb, offB, p, j)];
                        sum += x * y;
                        gauge += Math.abs(x) * Math.abs(y);
                    }
                }
                long ci = index(layout, Transpose.NO_TRANS, ldc, offC, i, j);
                double expect = al * sum + (be == 0 ? 0 : be * c0[(int) ci]);
                gauge = Math.abs(al) * gauge + (be == 0 ? 0 : Math.abs(be * c0[(int) ci]));
                double got = c[(int) ci];
                if (Double.isNaN(expect) || Double.isInfinite(expect)) {
                    if (Double.compare(got, expect) != 0 && !(Double.isNaN(got) && Double.isNaN(expect))) {
                        return new Check(worst, ci, "C(" + i + "," + j + ") = " + got + ", expected " + expect);
                    }
                    continue;
                }
                double err = Math.abs(got - expect);
                double ratio = gauge == 0 ? (err == 0 ? 0 : Double.POSITIVE_INFINITY) : err / (eps * gauge);
                if (!(err <= bound * gauge) || Double.isNaN(got)) {
                    return new Check(ratio, ci, "C(" + i + "," + j + ") = " + got + ", expected " + expect
                            + " (error " + err + " > " + bound + " * gauge " + gauge + ")");
                }
                if (ratio > worst) {
                    worst = ratio;
                    worstAt = ci;
                }
            }
        }
        return new Check(worst, worstAt, null);
    }
}
