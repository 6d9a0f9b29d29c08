package dev.kernelbridge.internal.cpu;

import dev.kernelbridge.spi.BackendBuffer;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Optional;

/** Host memory: native memory from its own arena, or a caller's segment wrapped without copy. */
final class CpuBuffer implements BackendBuffer {
    private final MemorySegment segment;
    private final Arena arena;

    CpuBuffer(MemorySegment segment, Arena arena) {
        this.segment = segment;
        this.arena = arena;
    }

    static MemorySegment segment(BackendBuffer buffer) {
        return buffer.hostSegment().orElseThrow(() -> new IllegalStateException("the CPU backend was given a buffer of another device"));
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
