package dev.kernelbridge.opencl;

import static org.lwjgl.opencl.CL10.*;

import dev.kernelbridge.spi.BackendBuffer;
import dev.kernelbridge.spi.NativeMemory;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A cl_mem of one device. Copies are blocking. LWJGL hands the driver a raw address, which keeps no
 * arena open: memory another thread could free during the copy (heap, shared or automatic segments)
 * travels through a native bounce buffer this call owns.
 */
final class OpenClBuffer implements BackendBuffer {
    /** Heap copies move through native memory in pieces this large. */
    private static final long BOUNCE = 64L << 20;

    private final OpenClDevice device;
    private final long mem;
    private final long byteSize;

    OpenClBuffer(OpenClDevice device, long mem, long byteSize) {
        this.device = device;
        this.mem = mem;
        this.byteSize = byteSize;
    }

    long mem() { return mem; }

    OpenClDevice device() { return device; }

    @Override
    public long byteSize() { return byteSize; }

    @Override
    public void copyIn(long byteOffset, MemorySegment source) {
        if (NativeMemory.onlyCallerCanFree(source)) {
            write(byteOffset, source);
            return;
        }
        try (Arena arena = NativeMemory.confined()) {
            MemorySegment bounce = arena.allocate(Math.min(BOUNCE, Math.max(1, source.byteSize())), 64);
            for (long done = 0; done < source.byteSize(); done += bounce.byteSize()) {
                long n = Math.min(bounce.byteSize(), source.byteSize() - done);
                NativeMemory.copyOfCallers(source, done, bounce, 0, n, "source");
                write(byteOffset + done, bounce.asSlice(0, n));
            }
        }
    }

    @Override
    public void copyOut(long byteOffset, MemorySegment target) {
        if (NativeMemory.onlyCallerCanFree(target)) {
            read(byteOffset, target);
            return;
        }
        try (Arena arena = NativeMemory.confined()) {
            MemorySegment bounce = arena.allocate(Math.min(BOUNCE, Math.max(1, target.byteSize())), 64);
            for (long done = 0; done < target.byteSize(); done += bounce.byteSize()) {
                long n = Math.min(bounce.byteSize(), target.byteSize() - done);
                read(byteOffset + done, bounce.asSlice(0, n));
                NativeMemory.copyOfCallers(bounce, 0, target, done, n, "target");
            }
        }
    }

    private void write(long offset, MemorySegment source) {
        if (source.byteSize() > 0) {
            device.transfer(() -> ClErrors.check(nclEnqueueWriteBuffer(device.queue(), mem, CL_TRUE, offset, source.byteSize(),
                    source.address(), 0, 0, 0), device.id(), "clEnqueueWriteBuffer"));
        }
    }

    private void read(long offset, MemorySegment target) {
        if (target.byteSize() > 0) {
            device.transfer(() -> ClErrors.check(nclEnqueueReadBuffer(device.queue(), mem, CL_TRUE, offset, target.byteSize(),
                    target.address(), 0, 0, 0), device.id(), "clEnqueueReadBuffer"));
        }
    }

    @Override
    public void release() {
        clReleaseMemObject(mem);
    }
}
