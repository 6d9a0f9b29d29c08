package dev.kernelbridge.spi;

import dev.kernelbridge.DType;
import dev.kernelbridge.DeviceKind;
import java.util.Objects;
import java.util.Set;

/** What a device says about itself. {@code memoryBytes} is total memory, 0 where unknown. */
public record DeviceInfo(String name, String vendor, DeviceKind kind, long memoryBytes, Set<DType> dtypes) {
    public DeviceInfo {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(vendor, "vendor");
        Objects.requireNonNull(kind, "kind");
        dtypes = Set.copyOf(dtypes);
    }
}
