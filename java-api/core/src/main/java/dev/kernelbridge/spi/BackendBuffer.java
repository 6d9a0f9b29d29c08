package dev.kernelbridge.spi;

import java.lang.foreign.MemorySegment;
import java.util.Optional;

/** Device memory owned by a backend. Offsets and sizes are in bytes and arrive checked. */
public interface BackendBuffer {
    long byteSize();

    /** The memory itself, where the host can read and write it directly; empty for device memory. */
    default Optional<MemorySegment> hostSegment() { return Optional.empty(); }

    /** Copies {@code source.byteSize()} bytes into this buffer at {@code byteOffset}. */
    void copyIn(long byteOffset, MemorySegment source);

    /** Copies {@code target.byteSize()} bytes from this buffer at {@code byteOffset} into {@code target}. */
    void copyOut(long byteOffset, MemorySegment target);

    /** Frees the memory. Called once, never while an operation uses the buffer; must not throw. */
    void release();
}
