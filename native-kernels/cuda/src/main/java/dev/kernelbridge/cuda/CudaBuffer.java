package dev.kernelbridge.cuda;

import dev.kernelbridge.spi.BackendBuffer;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/** Device memory from cuMemAlloc. Copies are synchronous; heap memory travels through a native staging chunk. */
final class CudaBuffer implements BackendBuffer {
    private static final long STAGING = 64L << 20;

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
        device.enter();
        if (source.isNative()) {
            device.check("cuMemcpyHtoD", device.driver().call("cuMemcpyHtoD", pointer + byteOffset, source, source.byteSize()));
            return;
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment stage = a.allocate(Math.min(STAGING, Math.max(1, source.byteSize())));
            for (long done = 0; done < source.byteSize(); done += stage.byteSize()) {
                long n = Math.min(stage.byteSize(), source.byteSize() - done);
                MemorySegment.copy(source, done, stage, 0, n);
                device.check("cuMemcpyHtoD", device.driver().call("cuMemcpyHtoD", pointer + byteOffset + done, stage, n));
            }
        }
    }

    @Override
    public void copyOut(long byteOffset, MemorySegment target) {
        device.enter();
        if (target.isNative()) {
            device.check("cuMemcpyDtoH", device.driver().call("cuMemcpyDtoH", target, pointer + byteOffset, target.byteSize()));
            return;
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment stage = a.allocate(Math.min(STAGING, Math.max(1, target.byteSize())));
            for (long done = 0; done < target.byteSize(); done += stage.byteSize()) {
                long n = Math.min(stage.byteSize(), target.byteSize() - done);
                device.check("cuMemcpyDtoH", device.driver().call("cuMemcpyDtoH", stage, pointer + byteOffset + done, n));
                MemorySegment.copy(stage, 0, target, done, n);
            }
        }
    }

    /** Frees the memory; on a poisoned context the driver has nothing left to free and nothing is thrown. */
    @Override
    public void release() {
        device.free(pointer);
    }
}
