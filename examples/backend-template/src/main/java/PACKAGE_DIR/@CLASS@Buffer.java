package @PACKAGE@;

import dev.kernelbridge.spi.BackendBuffer;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Optional;

/**
 * Memory of the device. This skeleton keeps it in host memory; a discrete device returns
 * Optional.empty() from hostSegment() and copies in copyIn/copyOut.
 */
final class @CLASS@Buffer implements BackendBuffer {
    final MemorySegment segment;
    private final Arena arena;

    @CLASS@Buffer(MemorySegment segment, Arena arena) {
        this.segment = segment;
        this.arena = arena;
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
