package dev.kernelbridge.netlib;

import dev.ludovic.netlib.blas.JavaBLAS;
import dev.ludovic.netlib.blas.NativeBLAS;

/**
 * KernelBridge behind {@code dev.ludovic.netlib.blas.BLAS} (Spark MLlib 3.2+, Breeze 2): {@code sgemm}
 * and {@code dgemm}, with and without offsets, run through KernelBridge's dispatch; every other
 * routine is {@link JavaBLAS#getInstance()}, the library's own Java code (see the generated
 * {@link LudovicDelegate}). Arguments are checked as dev.ludovic.netlib's {@code AbstractBLAS}
 * checks them (see {@link NetlibGemm}).
 *
 * <p>It implements {@link NativeBLAS} because that is the instance Spark asks for its level-3 calls
 * ({@code NativeBLAS.getInstance()}, with the Java one as its fallback). dev.ludovic.netlib has no
 * plug-in point of its own: {@code -javaagent:kernelbridge-netlib.jar} ({@link NetlibAgent}) makes
 * {@code BLAS.getInstance()} and {@code NativeBLAS.getInstance()} return {@link #getInstance()};
 * code that takes a {@code BLAS} can be handed {@link #getInstance()} directly.
 *
 * <p>Thread-safe; one instance per JVM; the KernelBridge behind it opens on the first GEMM
 * ({@link NetlibBridge}).
 */
public final class LudovicBLAS extends LudovicDelegate implements NativeBLAS {
    private static final LudovicBLAS INSTANCE = new LudovicBLAS();

    private LudovicBLAS() {
        super(JavaBLAS.getInstance());
    }

    /** The one instance (the agent's {@code BLAS.getInstance()} and {@code NativeBLAS.getInstance()} return it). */
    public static LudovicBLAS getInstance() {
        return INSTANCE;
    }

    @Override
    public void dgemm(String transa, String transb, int m, int n, int k, double alpha, double[] a, int lda,
                      double[] b, int ldb, double beta, double[] c, int ldc) {
        dgemm(transa, transb, m, n, k, alpha, a, 0, lda, b, 0, ldb, beta, c, 0, ldc);
    }

    @Override
    public void dgemm(String transa, String transb, int m, int n, int k, double alpha, double[] a, int offa, int lda,
                      double[] b, int offb, int ldb, double beta, double[] c, int offc, int ldc) {
        NetlibGemm.dgemm(delegate::dgemm, transa, transb, m, n, k, alpha, a, offa, lda, b, offb, ldb, beta, c, offc, ldc);
    }

    @Override
    public void sgemm(String transa, String transb, int m, int n, int k, float alpha, float[] a, int lda,
                      float[] b, int ldb, float beta, float[] c, int ldc) {
        sgemm(transa, transb, m, n, k, alpha, a, 0, lda, b, 0, ldb, beta, c, 0, ldc);
    }

    @Override
    public void sgemm(String transa, String transb, int m, int n, int k, float alpha, float[] a, int offa, int lda,
                      float[] b, int offb, int ldb, float beta, float[] c, int offc, int ldc) {
        NetlibGemm.sgemm(delegate::sgemm, transa, transb, m, n, k, alpha, a, offa, lda, b, offb, ldb, beta, c, offc, ldc);
    }

    @Override
    public String toString() {
        return "KernelBridge (dev.ludovic.netlib seam; other routines: " + delegate.getClass().getName() + ")";
    }
}
