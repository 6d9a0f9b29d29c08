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
     * A buffer over caller memory, used in place without a copy; only called when
     * {@link #sharesHostMemory()} is true. Releasing it must not free the caller's memory.
     */
    default BackendBuffer wrapHost(MemorySegment hostMemory) {
        throw new UnsupportedOperationException(info().name() + " does not share host memory");
    }

    /**
     * Runs a checked, column-major GEMM (see {@link GemmCall}) and returns when C is written.
     */
    void gemm(GemmCall call);
}
