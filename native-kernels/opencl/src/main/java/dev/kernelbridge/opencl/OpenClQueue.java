package dev.kernelbridge.opencl;

import dev.kernelbridge.spi.NativeMemory;
import static org.lwjgl.opencl.CL10.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/** An in-order command queue of one device: kernel launches and the wait for them. */
final class OpenClQueue {
    private final long handle;
    private final String deviceId;
    /** Launches enqueued per kernel name, for tests and diagnostics (which path served a call). */
    private final Map<String, LongAdder> launches = new ConcurrentHashMap<>();

    OpenClQueue(long context, long device, String deviceId) {
        this.deviceId = deviceId;
        int[] err = new int[1];
        this.handle = clCreateCommandQueue(context, device, 0, err);
        ClErrors.check(err[0], deviceId, "clCreateCommandQueue");
    }

    long handle() { return handle; }

    /** Enqueues {@code kernel} over {@code global} work-items in groups of {@code local} (null: the driver chooses). */
    void launch(long kernel, String name, long[] global, long[] local) {
        try (Arena arena = NativeMemory.confined()) {
            MemorySegment g = arena.allocateFrom(ValueLayout.JAVA_LONG, global);
            MemorySegment l = local == null ? MemorySegment.NULL : arena.allocateFrom(ValueLayout.JAVA_LONG, local);
            ClErrors.check(nclEnqueueNDRangeKernel(handle, kernel, global.length, 0, g.address(), l.address(), 0, 0, 0),
                    deviceId, "launch of " + name);
        }
        launches.computeIfAbsent(name, x -> new LongAdder()).increment();
    }

    /** Launches of {@code kernel} enqueued so far. */
    long launches(String kernel) {
        LongAdder n = launches.get(kernel);
        return n == null ? 0 : n.sum();
    }

    /** Copies {@code from} into the start of buffer {@code mem}, returning when the bytes are there (from may go then). */
    void write(long mem, MemorySegment from, String what) {
        ClErrors.check(nclEnqueueWriteBuffer(handle, mem, CL_TRUE, 0, from.byteSize(), from.address(), 0, 0, 0), deviceId,
                "clEnqueueWriteBuffer of the " + what);
    }

    /** Waits for everything enqueued; a failure of any of it is reported here. */
    void finish(String what) {
        ClErrors.check(clFinish(handle), deviceId, what);
    }

    void release() {
        clReleaseCommandQueue(handle);
    }
}
