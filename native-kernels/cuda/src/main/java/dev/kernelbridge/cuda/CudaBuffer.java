package dev.kernelbridge.cuda;

import dev.kernelbridge.spi.BackendBuffer;
import java.lang.foreign.MemorySegment;

/** Device memory from cuMemAlloc. Copies run on the device's stream and return when they are done (see CudaDevice). */
final class CudaBuffer implements BackendBuffer {
    private final CudaDevice device;
    final long pointer;
    private final long bytes;

    CudaBuffer(CudaDevice device, long pointer, long bytes) {
        this.device = device;
        this.pointer = pointer;
        this.bytes = bytes;
    }

    @Override
    public long byteSize() { return bytes; }

    @Override
    public void copyIn(long byteOffset, MemorySegment source) {
        device.copyIn(pointer + byteOffset, source);
    }

    @Override
    public void copyOut(long byteOffset, MemorySegment target) {
        device.copyOut(pointer + byteOffset, target);
    }

    /** Frees the memory; on a poisoned context the driver has nothing left to free and nothing is thrown. */
    @Override
    public void release() {
        device.free(pointer);
    }
}
