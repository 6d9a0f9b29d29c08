package dev.kernelbridge.spi;

import dev.kernelbridge.DeviceOutOfMemoryException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Optional;

/**
 * A {@link BackendBuffer} over host memory, for devices whose kernels read host memory directly
 * (CPUs, host BLAS libraries, APUs): either owned (allocated here, freed by {@link #release()}) or
 * borrowed (the caller's memory, never freed here). A discrete device implements its own buffer.
 */
public final class HostBuffer implements BackendBuffer {
    private static final long ALIGNMENT = 64;

    private final MemorySegment segment;
    private final Arena arena;

    private HostBuffer(MemorySegment segment, Arena arena) {
        this.segment = segment;
        this.arena = arena;
    }

    /**
     * Allocates {@code bytes} of 64-byte aligned native memory usable from any thread. When the
     * host cannot provide it: {@link DeviceOutOfMemoryException} naming {@code deviceId} (ENOMEM).
     */
    public static HostBuffer allocate(String deviceId, long bytes) {
        Arena arena = NativeMemory.shared();
        try {
            return new HostBuffer(arena.allocate(Math.max(1, bytes), ALIGNMENT).asSlice(0, bytes), arena);
        } catch (OutOfMemoryError e) {
            arena.close();
            throw new DeviceOutOfMemoryException(deviceId, 12, "ENOMEM", "cannot allocate " + bytes + " bytes of host memory");
        }
    }

    /** The caller's memory, used in place; {@link #release()} leaves it alone. */
    public static HostBuffer wrap(MemorySegment memory) {
        return new HostBuffer(memory, null);
    }

    /** The memory itself. */
    public MemorySegment segment() { return segment; }

    /** The host memory behind a buffer that must be host-visible (a buffer of this device). */
    public static MemorySegment segmentOf(BackendBuffer buffer) {
        return buffer.hostSegment().orElseThrow(() -> new IllegalStateException("a host-memory device was given a buffer of another device"));
    }

    @Override
    public long byteSize() { return segment.byteSize(); }

    @Override
    public Optional<MemorySegment> hostSegment() { return Optional.of(segment); }

    @Override
    public void copyIn(long byteOffset, MemorySegment source) {
        MemorySegment.copy(source, 0, segment, byteOffset, source.byteSize());
    }

    @Override
    public void copyOut(long byteOffset, MemorySegment target) {
        MemorySegment.copy(segment, byteOffset, target, 0, target.byteSize());
    }

    @Override
    public void release() {
        if (arena != null) {
            arena.close();
        }
    }
}
