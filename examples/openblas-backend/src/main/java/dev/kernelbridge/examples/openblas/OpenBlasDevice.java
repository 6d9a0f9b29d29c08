package dev.kernelbridge.examples.openblas;

import dev.kernelbridge.DType;
import dev.kernelbridge.DeviceException;
import dev.kernelbridge.DeviceKind;
import dev.kernelbridge.Transpose;
import dev.kernelbridge.spi.BackendBuffer;
import dev.kernelbridge.spi.BackendDevice;
import dev.kernelbridge.spi.DeviceInfo;
import dev.kernelbridge.spi.GemmCall;
import dev.kernelbridge.spi.HostBuffer;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The host CPU driven by OpenBLAS. GEMMs arrive checked and column-major, exactly CBLAS's
 * column-major form. Calls are serialised: OpenBLAS parallelises each call itself, and older
 * pthread builds are not safe for concurrent callers (OpenBLAS#1755, #2126).
 */
final class OpenBlasDevice implements BackendDevice {
    private static final String ID = "openblas:0";

    private final OpenBlasLibrary lib;
    private final DeviceInfo info;
    private final ReentrantLock calls = new ReentrantLock();

    OpenBlasDevice(OpenBlasLibrary lib) {
        this.lib = lib;
        long memory = ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os
                ? os.getTotalMemorySize() : 0;
        this.info = new DeviceInfo("OpenBLAS " + lib.coreName() + " (" + Runtime.getRuntime().availableProcessors() + " threads)",
                "OpenBLAS", DeviceKind.CPU, memory, Set.of(DType.F32, DType.F64));
    }

    @Override
    public DeviceInfo info() { return info; }

    @Override
    public BackendBuffer allocate(DType dtype, long elements) {
        return HostBuffer.allocate(ID, Math.multiplyExact(elements, (long) dtype.byteSize()));
    }

    @Override
    public boolean sharesHostMemory() { return true; }

    /** Native memory is used in place; heap memory cannot be handed to C, so it is copied (the API copies C back). */
    @Override
    public BackendBuffer wrapHost(MemorySegment hostMemory) {
        if (hostMemory.isNative()) {
            return HostBuffer.wrap(hostMemory);
        }
        HostBuffer copy = HostBuffer.allocate(ID, hostMemory.byteSize());
        MemorySegment.copy(hostMemory, 0, copy.segment(), 0, hostMemory.byteSize());
        return copy;
    }

    @Override
    public void gemm(GemmCall call) {
        // CBLAS (LP64) takes int dimensions: refuse before launching rather than narrow silently.
        for (long v : new long[] {call.m(), call.n(), call.k(), call.lda(), call.ldb(), call.ldc()}) {
            if (v > Integer.MAX_VALUE) {
                throw new UnsupportedOperationException("OpenBLAS's CBLAS interface takes 32-bit dimensions; "
                        + v + " exceeds 2^31-1 (m=" + call.m() + ", n=" + call.n() + ", k=" + call.k() + ")");
            }
        }
        MemorySegment a = HostBuffer.segmentOf(call.a()), b = HostBuffer.segmentOf(call.b()), c = HostBuffer.segmentOf(call.c());
        long es = call.dtype().byteSize();
        int ta = call.transA() == Transpose.TRANS ? OpenBlasLibrary.TRANS : OpenBlasLibrary.NO_TRANS;
        int tb = call.transB() == Transpose.TRANS ? OpenBlasLibrary.TRANS : OpenBlasLibrary.NO_TRANS;
        // k == 0 means C := beta·C without touching A or B (which may be empty): done in Java.
        calls.lock();
        try {
            for (long item = 0; item < call.batchCount(); item++) {
                MemorySegment ai = a.asSlice((call.offsetA() + item * call.strideA()) * es);
                MemorySegment bi = b.asSlice((call.offsetB() + item * call.strideB()) * es);
                MemorySegment ci = c.asSlice((call.offsetC() + item * call.strideC()) * es);
                if (call.k() == 0) {
                    scale(call, ci);
                } else if (call.dtype() == DType.F32) {
                    lib.sgemm.invokeExact(OpenBlasLibrary.COL_MAJOR, ta, tb, (int) call.m(), (int) call.n(), (int) call.k(),
                            (float) call.alpha(), ai, (int) call.lda(), bi, (int) call.ldb(), (float) call.beta(), ci, (int) call.ldc());
                } else {
                    lib.dgemm.invokeExact(OpenBlasLibrary.COL_MAJOR, ta, tb, (int) call.m(), (int) call.n(), (int) call.k(),
                            call.alpha(), ai, (int) call.lda(), bi, (int) call.ldb(), call.beta(), ci, (int) call.ldc());
                }
            }
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new DeviceException(ID, -1, "FFM", "cblas call failed", t);
        } finally {
            calls.unlock();
        }
    }

    /** C := beta·C for one item; beta == 0 writes +0 without reading C. */
    private static void scale(GemmCall call, MemorySegment c) {
        for (long j = 0; j < call.n(); j++) {
            for (long i = 0; i < call.m(); i++) {
                long at = i + j * call.ldc();
                if (call.dtype() == DType.F32) {
                    float beta = (float) call.beta();
                    c.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, at,
                            beta == 0 ? 0f : beta * c.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, at));
                } else {
                    c.setAtIndex(java.lang.foreign.ValueLayout.JAVA_DOUBLE_UNALIGNED, at,
                            call.beta() == 0 ? 0d : call.beta() * c.getAtIndex(java.lang.foreign.ValueLayout.JAVA_DOUBLE_UNALIGNED, at));
                }
            }
        }
    }
}
