package dev.kernelbridge.spi;

import dev.kernelbridge.DType;
import java.lang.foreign.MemorySegment;

/** One device of a backend. Thread-safe; kernels may run concurrently on it. */
public interface BackendDevice {
    DeviceInfo info();

    /**
     * Allocates {@code elements} elements of {@code dtype}, contents unspecified.
     * Fails with {@link dev.kernelbridge.DeviceOutOfMemoryException} when it does not fit.
     */
    BackendBuffer allocate(DType dtype, long elements);

    /** True when kernels of this device read and write host memory directly (a CPU, an APU). */
    default boolean sharesHostMemory() { return false; }

    /**
     * Whether this device computes on the calling thread, in host memory, in plain Java: it cannot
     * hang or fail half-way, so dispatch runs a whole unchecked GEMM on C in place, with no hand-off
     * to a worker thread and no deadline (the built-in CPU backend). A device that calls native code
     * or another thread must say false, the default: only then can its deadline be enforced.
     */
    default boolean runsOnCallerThread() { return false; }

    /**
     * A buffer over caller memory, used in place without a copy; only called when
     * {@link #sharesHostMemory()} is true. Releasing it must not free the caller's memory.
     */
    default BackendBuffer wrapHost(MemorySegment hostMemory) {
        throw new UnsupportedOperationException(info().name() + " does not share host memory");
    }

    /**
     * True when kernels of this device can read and write buffers allocated by {@code other} in
     * place (devices of one OpenCL context, GPUs with peer access). Enables {@link #reduce}.
     */
    default boolean addresses(BackendDevice other) { return other == this; }

    /**
     * Optional step of the reducing collectives, run on this device: for i in [0, count),
     * {@code r = in_0[i] ⊕ in_1[i] ⊕ …} folded in list order (avg: then divided by the number of
     * inputs) and written to every output. Inputs are read at {@code inByteOffset}, outputs written
     * at {@code outByteOffset}; an output may be an input at the same offset. Only called when this
     * device {@link #addresses} the owner of every buffer, and never for the same bytes from two
     * devices at once. Must give the bits of IEEE arithmetic in list order (no contraction, no
     * flush to zero; min and max as {@link Math#min}/{@link Math#max}); a device that cannot, or
     * cannot for this range, returns false without touching anything and the API reduces on the host.
     */
    default boolean reduce(dev.kernelbridge.ReduceOp op, DType dtype, java.util.List<BackendBuffer> inputs, long inByteOffset,
                           java.util.List<BackendBuffer> outputs, long outByteOffset, long count) {
        return false;
    }

    /**
     * Optional step of all-to-all: copies {@code bytes} from {@code from} at {@code fromByteOffset}
     * into {@code to} at {@code toByteOffset} on this device, returning when the bytes are there.
     * Called only for buffers the host cannot address, with {@code to} this device's; other threads
     * may read {@code from} at the same time, nobody writes it. A device that cannot (a buffer it
     * does not {@link #addresses address}) returns false without touching anything, and the bytes
     * travel through host memory.
     */
    default boolean copy(BackendBuffer from, long fromByteOffset, BackendBuffer to, long toByteOffset, long bytes) {
        return false;
    }

    /**
     * The GEMM throughput this device is expected to reach for {@code dtype}, in GFLOP/s, from tuning
     * data; 0 when unknown. The scheduler starts from it and replaces it with live measurements.
     */
    default double expectedGflops(DType dtype) { return 0; }

    /**
     * What the device can say about itself beyond {@link DeviceInfo}, as named text values for people
     * and tools (the CLI's {@code devices --json} and {@code doctor}): the libraries behind it, their
     * versions and ISA, its tuning state. Empty by default; read rarely, never on a hot path.
     */
    default java.util.Map<String, String> details() { return java.util.Map.of(); }

    /**
     * What the device reports about its own condition now (memory errors, throttling, link replays,
     * driver events; see {@link dev.kernelbridge.DeviceTelemetry}). Called about once every 20
     * launches, off the launch itself, so it may read files or a management library, but must not
     * block for long or throw: a reading it cannot make is {@code UNKNOWN}. The default knows nothing.
     */
    default dev.kernelbridge.DeviceTelemetry telemetry() { return dev.kernelbridge.DeviceTelemetry.NONE; }

    /**
     * Runs a checked, column-major GEMM (see {@link GemmCall}) and returns when C is written.
     */
    void gemm(GemmCall call);

    /**
     * Runs independent checked GEMMs, each as {@link #gemm} would, and returns when every C is
     * written: the groups of one grouped GEMM. The calls share an input type (their shapes, transposes,
     * scalars and output types may differ); no C overlaps another call's A, B or C, so the calls may run
     * in any order or at once. Empty groups never arrive. A device with a grouped kernel (one tile space
     * over all groups, one launch) overrides this; the default runs the calls one by one, so a backend
     * written before grouped GEMM keeps working unchanged.
     */
    default void gemmGrouped(java.util.List<GemmCall> calls) {
        for (GemmCall call : calls) {
            gemm(call);
        }
    }
}
