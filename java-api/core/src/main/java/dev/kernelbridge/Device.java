package dev.kernelbridge;

import dev.kernelbridge.spi.BackendDevice;
import dev.kernelbridge.spi.DeviceInfo;
import java.util.Set;

/**
 * A device of some backend, named "backend:index" ({@code cpu:0}, {@code opencl:1}). Immutable
 * description; the work goes through {@link KernelBridge}. Thread-safe.
 */
public final class Device {
    private final String id;
    private final String backend;
    private final DeviceInfo info;
    private final BackendDevice spi;

    Device(String backend, int index, BackendDevice spi) {
        this.id = backend + ":" + index;
        this.backend = backend;
        this.spi = spi;
        this.info = spi.info();
    }

    public String id() { return id; }

    public String backend() { return backend; }

    public String name() { return info.name(); }

    public String vendor() { return info.vendor(); }

    public DeviceKind kind() { return info.kind(); }

    /** Total memory in bytes, 0 where the runtime does not say. */
    public long memoryBytes() { return info.memoryBytes(); }

    /**
     * The largest single buffer this device can hold, in bytes, 0 where the runtime does not say: a
     * capability (OpenCL's {@code CL_DEVICE_MAX_MEM_ALLOC_SIZE}, CUDA's total memory, the CPU's physical
     * memory or cgroup limit), not what happens to be free now. An
     * allocation above it fails with {@link DeviceOutOfMemoryException}.
     */
    public long maxAllocationBytes() { return info.maxAllocationBytes(); }

    public Set<DType> dtypes() { return info.dtypes(); }

    /**
     * What the backend says about the device beyond the fields above (for the CPU: its GEMM routines,
     * each library's version and ISA, and where its routine choices are stored); empty where it says
     * nothing. For people and tools to read; the names are not a stable API.
     */
    public java.util.Map<String, String> details() {
        try {
            return java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(spi().details()));
        } catch (RuntimeException e) {
            return java.util.Map.of("error", "the backend could not describe the device: " + e);
        }
    }

    /** What the device reports about its own condition now; {@link DeviceTelemetry#NONE} where its backend reports nothing. */
    public DeviceTelemetry telemetry() {
        try {
            return spi().telemetry();
        } catch (RuntimeException e) {
            return DeviceTelemetry.NONE;
        }
    }

    public boolean supports(DType dtype) { return info.dtypes().contains(dtype); }

    BackendDevice spi() { return spi; }

    @Override
    public String toString() { return id + " (" + info.name() + ")"; }
}
