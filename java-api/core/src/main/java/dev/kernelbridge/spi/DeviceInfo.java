package dev.kernelbridge.spi;

import dev.kernelbridge.DType;
import dev.kernelbridge.DeviceKind;
import java.util.Objects;
import java.util.Set;

/**
 * What a device says about itself. {@code memoryBytes} is total memory, 0 where unknown;
 * {@code maxAllocationBytes} is the largest single buffer it can hold (OpenCL's
 * {@code CL_DEVICE_MAX_MEM_ALLOC_SIZE}, CUDA's total memory, the CPU's physical or cgroup limit),
 * 0 where unknown. Both are capabilities, not today's free memory, so what a caller decides from them
 * does not change with what else the machine is doing.
 */
public record DeviceInfo(String name, String vendor, DeviceKind kind, long memoryBytes, long maxAllocationBytes, Set<DType> dtypes) {
    public DeviceInfo {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(vendor, "vendor");
        Objects.requireNonNull(kind, "kind");
        memoryBytes = Math.max(0, memoryBytes);                 // a negative size (an old backend's "unknown") is unknown
        maxAllocationBytes = Math.max(0, maxAllocationBytes);
        dtypes = Set.copyOf(dtypes);
    }

    /** A device that knows no limit on one buffer below its total memory (the SPI before maxAllocationBytes). */
    public DeviceInfo(String name, String vendor, DeviceKind kind, long memoryBytes, Set<DType> dtypes) {
        this(name, vendor, kind, memoryBytes, memoryBytes, dtypes);
    }
}
