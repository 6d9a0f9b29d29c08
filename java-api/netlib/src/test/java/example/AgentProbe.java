package example;

import dev.kernelbridge.netlib.NetlibBridge;
import dev.ludovic.netlib.blas.BLAS;
import dev.ludovic.netlib.blas.JavaBLAS;
import dev.ludovic.netlib.blas.NativeBLAS;

/** A user's class (outside KernelBridge's packages, so it can stay on the class path when they are modules), run in a child JVM by NetlibAgentTest: what dev.ludovic.netlib's factories return, and who ran a DGEMM. */
public final class AgentProbe {
    private AgentProbe() { }

    /** As Spark asks for its level-3 BLAS: the native instance, else (no system BLAS here) the Java one. */
    private static BLAS nativeOrJava() {
        try {
            return NativeBLAS.getInstance();
        } catch (RuntimeException e) {
            return JavaBLAS.getInstance();
        }
    }

    /** KernelBridge's DGEMM count, or why it cannot be read: a probe run where KernelBridge is absent still reports. */
    private static String kernelBridgeDgemms() {
        try {
            return Long.toString(NetlibBridge.dgemmCalls());
        } catch (LinkageError e) {
            return "absent";
        }
    }

    public static void main(String[] args) {
        double[] a = {1, 2, 3, 4}, b = {5, 6, 7, 8}, c = new double[4];
        BLAS.getInstance().dgemm("N", "N", 2, 2, 2, 1.0, a, 2, b, 2, 0.0, c, 2);
        BLAS nativeBlas = nativeOrJava();
        nativeBlas.dgemm("N", "N", 2, 2, 2, 1.0, a, 2, b, 2, 1.0, c, 2);
        System.out.println("blas=" + BLAS.getInstance().getClass().getName()
                + " native=" + nativeBlas.getClass().getName()
                + " java=" + JavaBLAS.getInstance().getClass().getName()
                + " module=" + BLAS.getInstance().getClass().getModule().getName()
                + " kernelbridgeDgemm=" + kernelBridgeDgemms()
                + " c=" + java.util.Arrays.toString(c));
    }
}
