package example;

import dev.kernelbridge.netlib.NetlibBridge;
import dev.ludovic.netlib.blas.BLAS;
import dev.ludovic.netlib.blas.JavaBLAS;
import dev.ludovic.netlib.blas.NativeBLAS;

/** A user's class (outside KernelBridge's packages, so it can stay on the class path when they are modules), run in a child JVM by NetlibAgentTest: what dev.ludovic.netlib's factories return, and who ran a DGEMM. */
public final class AgentProbe {
    private AgentProbe() { }

    public static void main(String[] args) {
        double[] a = {1, 2, 3, 4}, b = {5, 6, 7, 8}, c = new double[4];
        BLAS.getInstance().dgemm("N", "N", 2, 2, 2, 1.0, a, 2, b, 2, 0.0, c, 2);
        NativeBLAS.getInstance().dgemm("N", "N", 2, 2, 2, 1.0, a, 2, b, 2, 1.0, c, 2);
        System.out.println("blas=" + BLAS.getInstance().getClass().getName()
                + " native=" + NativeBLAS.getInstance().getClass().getName()
                + " java=" + JavaBLAS.getInstance().getClass().getName()
                + " module=" + BLAS.getInstance().getClass().getModule().getName()
                + " kernelbridgeDgemm=" + NetlibBridge.dgemmCalls()
                + " c=" + java.util.Arrays.toString(c));
    }
}
