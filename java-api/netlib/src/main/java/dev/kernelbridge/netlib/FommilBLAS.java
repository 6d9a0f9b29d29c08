package dev.kernelbridge.netlib;

import com.github.fommil.netlib.F2jBLAS;

/**
 * KernelBridge behind netlib-java's {@code com.github.fommil.netlib.BLAS} (MTJ, Smile 1.x, Spark
 * 3.1 and older), chosen with {@code -Dcom.github.fommil.netlib.BLAS=dev.kernelbridge.netlib.FommilBLAS}
 * (netlib-java instantiates the class it names with its public no-argument constructor).
 * {@code sgemm} and {@code dgemm}, with and without offsets, run through KernelBridge's dispatch;
 * every other routine is {@link F2jBLAS}'s, netlib-java's own Java code.
 *
 * <p>Bad arguments throw {@link IllegalArgumentException} with XERBLA's words (see
 * {@link NetlibGemm}); F2jBLAS itself would print them and end the JVM with {@code System.exit(0)}.
 *
 * <p>Thread-safe and stateless: instances share the one KernelBridge of {@link NetlibBridge},
 * opened on the first GEMM.
 */
public class FommilBLAS extends F2jBLAS {

    /** Called by netlib-java's {@code BLAS} when the system property names this class. */
    public FommilBLAS() {
    }

    @Override
    public void dgemm(String transa, String transb, int m, int n, int k, double alpha, double[] a, int lda,
                      double[] b, int ldb, double beta, double[] c, int ldc) {
        dgemm(transa, transb, m, n, k, alpha, a, 0, lda, b, 0, ldb, beta, c, 0, ldc);
    }

    @Override
    public void dgemm(String transa, String transb, int m, int n, int k, double alpha, double[] a, int offa, int lda,
                      double[] b, int offb, int ldb, double beta, double[] c, int offc, int ldc) {
        NetlibGemm.dgemm(super::dgemm, transa, transb, m, n, k, alpha, a, offa, lda, b, offb, ldb, beta, c, offc, ldc);
    }

    @Override
    public void sgemm(String transa, String transb, int m, int n, int k, float alpha, float[] a, int lda,
                      float[] b, int ldb, float beta, float[] c, int ldc) {
        sgemm(transa, transb, m, n, k, alpha, a, 0, lda, b, 0, ldb, beta, c, 0, ldc);
    }

    @Override
    public void sgemm(String transa, String transb, int m, int n, int k, float alpha, float[] a, int offa, int lda,
                      float[] b, int offb, int ldb, float beta, float[] c, int offc, int ldc) {
        NetlibGemm.sgemm(super::sgemm, transa, transb, m, n, k, alpha, a, offa, lda, b, offb, ldb, beta, c, offc, ldc);
    }
}
