package dev.kernelbridge.cpu.routines;

import dev.kernelbridge.spi.GemmCall;
import java.lang.foreign.MemorySegment;

/**
 * A way the CPU device can run a GEMM besides its own Vector API kernels: a native library bound
 * through FFM (OpenBLAS, oneDNN, …). The device stays one device — its routines share its cores —
 * and chooses among them per shape class by timing ({@code kernelbridge.cpu.gemm}). A routine must
 * either run a call exactly as {@link GemmCall}'s contract says or refuse it: a refused call runs on
 * the Vector API kernels.
 */
public interface CpuGemmRoutine {
    /** Short lower-case name, as in {@code kernelbridge.cpu.gemm}: "openblas". */
    String name();

    /** The library, its version and what it runs on, for devices, doctor and logs: "OpenBLAS 0.3.21 (Zen kernels, 2 threads)". */
    String description();

    /** Why this routine cannot run {@code call} exactly as the contract says, or null when it can. Cheap: asked per call. */
    String refusal(GemmCall call);

    /**
     * Runs {@code call}, which it did not refuse, on host memory: {@code a}, {@code b} and {@code c} are
     * the whole segments of the call's buffers (offsets, strides and leading dimensions are in
     * {@code call}). Blocking; may be called from several threads at once.
     */
    void run(GemmCall call, MemorySegment a, MemorySegment b, MemorySegment c);
}
