package dev.kernelbridge.netlib;

import dev.kernelbridge.Blas;
import dev.kernelbridge.KernelBridge;
import java.util.concurrent.atomic.LongAdder;

/**
 * The one KernelBridge behind both netlib seams ({@link LudovicBLAS}, {@link FommilBLAS}) in this
 * JVM. It is opened on the first GEMM that reaches it — not when a seam class is loaded — with
 * {@link KernelBridge#open()}, so the usual {@code kernelbridge.*} settings and {@code KERNELBRIDGE_*}
 * variables choose backends and the dispatch policy; a shutdown hook closes it. The counters say
 * which GEMMs KernelBridge ran and which went to the library's own Java code (see the seams for
 * when that happens). Thread-safe; all state is static because the seams are singletons by design
 * (the BLAS libraries hold one instance per JVM).
 */
public final class NetlibBridge {
    private static final System.Logger LOG = System.getLogger(NetlibBridge.class.getName());
    private static final LongAdder SGEMM = new LongAdder();
    private static final LongAdder DGEMM = new LongAdder();
    private static final LongAdder LIBRARY = new LongAdder();

    private NetlibBridge() { }

    /** Holder idiom: the bridge opens once, on first use, under the JVM's class-initialisation lock. */
    private static final class Holder {
        static final KernelBridge BRIDGE = openOnce();

        private static KernelBridge openOnce() {
            KernelBridge kb = KernelBridge.open();
            Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().name("kernelbridge-netlib-close").unstarted(kb::close));
            LOG.log(System.Logger.Level.DEBUG, () -> "netlib seams: KernelBridge opened, devices " + kb.devices() + ", dispatch " + kb.blas().dispatch());
            return kb;
        }
    }

    /** The bridge the seams use (opened now if it is not yet). Do not close it: the shutdown hook does. */
    public static KernelBridge bridge() {
        return Holder.BRIDGE;
    }

    static Blas blas() {
        return Holder.BRIDGE.blas();
    }

    /** SGEMM calls (either seam) that KernelBridge ran. */
    public static long sgemmCalls() { return SGEMM.sum(); }

    /** DGEMM calls (either seam) that KernelBridge ran. */
    public static long dgemmCalls() { return DGEMM.sum(); }

    /** GEMM calls that passed the checks but were handed to the library's own Java GEMM (C aliasing A or B, alpha = 0, k = 0). */
    public static long libraryCalls() { return LIBRARY.sum(); }

    static void countSgemm() { SGEMM.increment(); }

    static void countDgemm() { DGEMM.increment(); }

    static void countLibrary() { LIBRARY.increment(); }
}
