package dev.kernelbridge.netlib;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.github.fommil.netlib.BLAS;
import com.github.fommil.netlib.F2jBLAS;
import java.util.Random;
import no.uib.cipr.matrix.DenseMatrix;
import org.junit.jupiter.api.Test;
import smile.regression.RidgeRegression;

/**
 * The netlib-java seam, selected the way a user selects it: surefire sets
 * {@code -Dcom.github.fommil.netlib.BLAS=dev.kernelbridge.netlib.FommilBLAS} for this JVM. MTJ and
 * Smile 1.5.3 call netlib-java themselves; the counters prove KernelBridge ran their GEMMs.
 */
class FommilBLASTest {
    private static final F2jBLAS STOCK = new F2jBLAS();

    @Test
    void thePropertySelectsKernelBridge() {
        assertInstanceOf(FommilBLAS.class, BLAS.getInstance());
    }

    @Test
    void gemmMatchesNetlibJavasF2j() {
        Random r = new Random(4);
        int m = 33, n = 20, k = 47;
        double[] a = LudovicBLASTest.doubles(r, 3 + k * m), b = LudovicBLASTest.doubles(r, k * n), c = LudovicBLASTest.doubles(r, m * n);
        double[] expected = c.clone(), actual = c.clone();
        STOCK.dgemm("T", "N", m, n, k, 2.0, a, 3, k, b, 0, k, -1.0, expected, 0, m);
        long before = NetlibBridge.dgemmCalls();
        BLAS.getInstance().dgemm("T", "N", m, n, k, 2.0, a, 3, k, b, 0, k, -1.0, actual, 0, m);
        assertEquals(before + 1, NetlibBridge.dgemmCalls());
        assertArrayEquals(expected, actual, 1e-12 * k);

        float[] fa = LudovicBLASTest.floats(r, m * k), fb = LudovicBLASTest.floats(r, n * k), fc = new float[m * n], fe = new float[m * n];
        STOCK.sgemm("N", "T", m, n, k, 1f, fa, m, fb, n, 0f, fe, m);
        long s = NetlibBridge.sgemmCalls();
        BLAS.getInstance().sgemm("N", "T", m, n, k, 1f, fa, m, fb, n, 0f, fc, m);
        assertEquals(s + 1, NetlibBridge.sgemmCalls());
        assertArrayEquals(fe, fc, 1e-5f * k);
    }

    @Test
    void badArgumentsThrowWithXerblasWordsInsteadOfEndingTheJvm() {
        double[] a = new double[4], b = new double[4], c = new double[4];
        // F2jBLAS would print this and call System.exit(0).
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> BLAS.getInstance().dgemm("N", "N", 2, 2, 2, 1, a, 1, b, 2, 0, c, 2));
        assertEquals("** On entry to 'DGEMM' parameter number 8 had an illegal value", e.getMessage());
        assertThrows(ArrayIndexOutOfBoundsException.class, () -> BLAS.getInstance().dgemm("N", "N", 2, 2, 2, 1, a, 2, b, 2, 0, new double[3], 2));
    }

    @Test
    void mtjDenseMatrixMultRunsOnKernelBridge() {
        Random r = new Random(5);
        int n = 64;
        DenseMatrix x = new DenseMatrix(n, n), y = new DenseMatrix(n, n), z = new DenseMatrix(n, n);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                x.set(i, j, r.nextGaussian());
                y.set(i, j, r.nextGaussian());
            }
        }
        long before = NetlibBridge.dgemmCalls();
        x.mult(y, z);
        assertTrue(NetlibBridge.dgemmCalls() > before, "MTJ's DenseMatrix.mult reached KernelBridge");
        double[] expected = new double[n * n];
        STOCK.dgemm("N", "N", n, n, n, 1, x.getData(), n, y.getData(), n, 0, expected, n);
        assertArrayEquals(expected, z.getData(), 1e-12 * n);
    }

    @Test
    void smileRidgeRegressionRunsOnKernelBridge() {
        Random r = new Random(6);
        int rows = 500, p = 12;
        double[] w = new double[p];
        for (int j = 0; j < p; j++) w[j] = j - p / 2.0;
        double[][] x = new double[rows][p];
        double[] y = new double[rows];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < p; j++) {
                x[i][j] = r.nextGaussian();
                y[i] += w[j] * x[i][j];
            }
            y[i] += 3.0 + 0.01 * r.nextGaussian();
        }
        long before = NetlibBridge.dgemmCalls();
        RidgeRegression model = new RidgeRegression(x, y, 1e-6);
        assertTrue(NetlibBridge.dgemmCalls() > before, "Smile's X'X (NLMatrix.ata) reached KernelBridge");
        assertArrayEquals(w, model.coefficients(), 1e-2);
        assertEquals(3.0, model.intercept(), 1e-2);
    }
}
