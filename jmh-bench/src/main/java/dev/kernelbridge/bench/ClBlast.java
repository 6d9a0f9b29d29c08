package dev.kernelbridge.bench;

import static org.lwjgl.opencl.CL10.*;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

/**
 * The CLBlast peer through FFM: CLBlastSgemm on its own context and queue of the first OpenCL
 * device (the device KernelBridge calls opencl:0), with buffers it owns. Absent libclblast.so.1 or
 * OpenCL is reported, not fatal.
 */
public final class ClBlast implements AutoCloseable {
    private static final int COL_MAJOR = 102, NO_TRANS = 111;
    private static final String LIBRARY = "libclblast.so.1";

    private final MethodHandle sgemm;
    private final Arena arena = Arena.ofShared();
    private final long context, queue;
    private final MemorySegment queueSlot;

    private ClBlast(SymbolLookup lib) {
        ValueLayout L = ValueLayout.JAVA_LONG, I = ValueLayout.JAVA_INT, F = ValueLayout.JAVA_FLOAT, P = ValueLayout.ADDRESS;
        sgemm = Linker.nativeLinker().downcallHandle(lib.findOrThrow("CLBlastSgemm"), FunctionDescriptor.of(I,
                I, I, I, L, L, L, F, L, L, L, L, L, L, F, L, L, L, P, P));
        MemorySegment ids = arena.allocate(ValueLayout.JAVA_LONG, 1);
        check(nclGetPlatformIDs(1, ids.address(), 0), "clGetPlatformIDs");
        long platform = ids.get(ValueLayout.JAVA_LONG, 0);
        check(nclGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 1, ids.address(), 0), "clGetDeviceIDs");
        long device = ids.get(ValueLayout.JAVA_LONG, 0);
        MemorySegment err = arena.allocate(ValueLayout.JAVA_INT);
        MemorySegment props = arena.allocateFrom(ValueLayout.JAVA_LONG, CL_CONTEXT_PLATFORM, platform, 0);
        context = nclCreateContext(props.address(), 1, ids.address(), 0, 0, err.address());
        check(err.get(ValueLayout.JAVA_INT, 0), "clCreateContext");
        queue = nclCreateCommandQueue(context, device, 0, err.address());
        check(err.get(ValueLayout.JAVA_INT, 0), "clCreateCommandQueue");
        queueSlot = arena.allocate(ValueLayout.JAVA_LONG);
        queueSlot.set(ValueLayout.JAVA_LONG, 0, queue);
    }

    /** CLBlast on the first OpenCL device, or empty when either is missing. */
    public static Optional<ClBlast> open() {
        try {
            return Optional.of(new ClBlast(SymbolLookup.libraryLookup(LIBRARY, Arena.global())));
        } catch (Throwable e) { // no libclblast, no ICD loader, no device
            return Optional.empty();
        }
    }

    /** A device buffer holding {@code host}'s bytes. */
    public long upload(MemorySegment host) {
        MemorySegment err = arena.allocate(ValueLayout.JAVA_INT);
        long mem = nclCreateBuffer(context, CL_MEM_READ_WRITE, host.byteSize(), 0, err.address());
        check(err.get(ValueLayout.JAVA_INT, 0), "clCreateBuffer");
        check(nclEnqueueWriteBuffer(queue, mem, CL_TRUE, 0, host.byteSize(), host.address(), 0, 0, 0), "clEnqueueWriteBuffer");
        return mem;
    }

    public void download(long mem, MemorySegment host) {
        check(nclEnqueueReadBuffer(queue, mem, CL_TRUE, 0, host.byteSize(), host.address(), 0, 0, 0), "clEnqueueReadBuffer");
    }

    /** C := A·B, column-major n×n, and waits for it. */
    public void sgemm(int n, long a, long b, long c) {
        try {
            int status = (int) sgemm.invokeExact(COL_MAJOR, NO_TRANS, NO_TRANS, (long) n, (long) n, (long) n, 1f,
                    a, 0L, (long) n, b, 0L, (long) n, 0f, c, 0L, (long) n, queueSlot, MemorySegment.NULL);
            if (status != 0) {
                throw new IllegalStateException("CLBlastSgemm failed with status " + status);
            }
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
        check(clFinish(queue), "clFinish");
    }

    public void release(long mem) {
        clReleaseMemObject(mem);
    }

    @Override
    public void close() {
        clReleaseCommandQueue(queue);
        clReleaseContext(context);
        arena.close();
    }

    private static void check(int status, String what) {
        if (status != 0) {
            throw new IllegalStateException(what + " failed with OpenCL status " + status);
        }
    }
}
