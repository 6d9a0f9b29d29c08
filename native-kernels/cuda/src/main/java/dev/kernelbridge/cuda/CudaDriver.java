package dev.kernelbridge.cuda;

import dev.kernelbridge.spi.NativeMemory;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Map;
import java.util.Optional;

/**
 * The CUDA driver API (libcuda.so.1) through FFM. {@link #FUNCTIONS} is the one table of what is
 * bound: the exported symbol — the versioned entry point that cuda.h maps the name to
 * ({@code cuMemAlloc} → {@code cuMemAlloc_v2}) — and its C arguments. The driver's ABI is stable
 * across driver versions, which is why this binding carries no toolkit version. A test checks the
 * table against the installed cuda.h.
 */
final class CudaDriver {
    private static final java.lang.foreign.MemoryLayout P = NativeFunction.P, I = NativeFunction.I, L = NativeFunction.L;

    /** Every driver call returns CUresult (an int). Keyed by the name cuda.h declares. */
    static final Map<String, NativeFunction> FUNCTIONS = NativeFunction.table(
            fn("cuInit", I),                                          // unsigned int Flags
            fn("cuDriverGetVersion", P),
            fn("cuDeviceGetCount", P),
            fn("cuDeviceGet", P, I),
            fn("cuDeviceGetName", P, I, I),                           // char *name, int len, CUdevice dev
            fn("cuDeviceGetAttribute", P, I, I),                      // int *pi, CUdevice_attribute attrib, CUdevice dev
            fn("cuDeviceTotalMem_v2", "cuDeviceTotalMem", P, I),
            fn("cuDeviceGetPCIBusId", P, I, I),                       // char *pciBusId, int len, CUdevice dev: how NVML finds the GPU
            fn("cuDevicePrimaryCtxRetain", P, I),
            fn("cuDevicePrimaryCtxRelease_v2", "cuDevicePrimaryCtxRelease", I),
            fn("cuCtxSetCurrent", P),
            fn("cuCtxSynchronize"),
            fn("cuMemGetInfo_v2", "cuMemGetInfo", P, P),
            fn("cuMemAlloc_v2", "cuMemAlloc", P, L),
            fn("cuMemFree_v2", "cuMemFree", L),
            fn("cuMemAllocHost_v2", "cuMemAllocHost", P, L),         // page-locked staging: DMA reads it while the stream runs
            fn("cuMemFreeHost", P),
            fn("cuMemcpyHtoD_v2", "cuMemcpyHtoD", L, P, L),
            fn("cuMemcpyDtoH_v2", "cuMemcpyDtoH", P, L, L),
            fn("cuMemcpyHtoDAsync_v2", "cuMemcpyHtoDAsync", L, P, L, P),
            fn("cuMemcpyDtoHAsync_v2", "cuMemcpyDtoHAsync", P, L, L, P),
            fn("cuMemsetD8_v2", "cuMemsetD8", L, I, L),               // CUdeviceptr, unsigned char (promoted), size_t
            fn("cuMemsetD8Async", L, I, L, P),
            fn("cuStreamCreate", P, I),
            fn("cuStreamDestroy_v2", "cuStreamDestroy", P),
            fn("cuStreamSynchronize", P),
            fn("cuStreamQuery", P),
            fn("cuEventCreate", P, I),
            fn("cuEventRecord", P, P),
            fn("cuEventSynchronize", P),
            fn("cuEventDestroy_v2", "cuEventDestroy", P),
            fn("cuModuleLoadData", P, P),
            fn("cuModuleUnload", P),
            fn("cuModuleGetFunction", P, P, P),
            fn("cuModuleGetGlobal_v2", "cuModuleGetGlobal", P, P, P, P), // CUdeviceptr *dptr, size_t *bytes, CUmodule, const char *name
            fn("cuLaunchKernel", P, I, I, I, I, I, I, I, P, P, P),
            fn("cuGetErrorName", I, P),
            fn("cuGetErrorString", I, P));

    private static NativeFunction fn(String symbol, java.lang.foreign.MemoryLayout... args) {
        return NativeFunction.of(symbol, I, args);
    }

    private static NativeFunction fn(String symbol, String declared, java.lang.foreign.MemoryLayout... args) {
        return NativeFunction.versioned(symbol, declared, I, args);
    }

    /** The library name loaded when {@code kernelbridge.cuda.library} names none. */
    static final String DEFAULT_LIBRARY = "libcuda.so.1";

    private final NativeLibrary lib;

    private CudaDriver(NativeLibrary lib) {
        this.lib = lib;
        this.setCurrent = lib.handle("cuCtxSetCurrent");
        this.launch = lib.handle("cuLaunchKernel");
        this.htodAsync = lib.handle("cuMemcpyHtoDAsync");
        this.dtohAsync = lib.handle("cuMemcpyDtoHAsync");
        this.synchronize = lib.handle("cuStreamSynchronize");
    }

    /** The driver, or empty with nothing loaded when the library is not on this machine. */
    static Optional<CudaDriver> load(String library) {
        return NativeLibrary.load(library, FUNCTIONS).map(CudaDriver::new);
    }

    /** Where it was loaded from (a path, or the soname the loader resolved). */
    String location() {
        return lib.name;
    }

    /** Calls the function cuda.h declares as {@code name} (cuMemAlloc, not cuMemAlloc_v2); returns the CUresult. */
    int call(String name, Object... args) {
        return lib.call(name, args);
    }

    // The calls every GEMM and copy makes, through exact invocations: no boxing, no argument arrays.
    private final MethodHandle setCurrent, launch, htodAsync, dtohAsync, synchronize;

    int ctxSetCurrent(MemorySegment context) {
        try {
            return (int) setCurrent.invokeExact(context);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow("cuCtxSetCurrent", t);
        }
    }

    int launchKernel(MemorySegment f, int gridX, int blockX, MemorySegment stream, MemorySegment params) {
        try {
            return (int) launch.invokeExact(f, gridX, 1, 1, blockX, 1, 1, 0, stream, params,
                    MemorySegment.NULL);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow("cuLaunchKernel", t);
        }
    }

    int memcpyHtoDAsync(long target, MemorySegment source, long bytes, MemorySegment stream) {
        try {
            return (int) htodAsync.invokeExact(target, source, bytes, stream);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow("cuMemcpyHtoDAsync", t);
        }
    }

    int memcpyDtoHAsync(MemorySegment target, long source, long bytes, MemorySegment stream) {
        try {
            return (int) dtohAsync.invokeExact(target, source, bytes, stream);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow("cuMemcpyDtoHAsync", t);
        }
    }

    int streamSynchronize(MemorySegment stream) {
        try {
            return (int) synchronize.invokeExact(stream);
        } catch (Throwable t) {
            throw NativeLibrary.rethrow("cuStreamSynchronize", t);
        }
    }

    /** The driver's description of a CUresult ("an illegal memory access was encountered"). */
    String errorString(int result) {
        try (Arena a = NativeMemory.confined()) {
            MemorySegment out = a.allocate(ValueLayout.ADDRESS);
            if (call("cuGetErrorString", result, out) != 0) {
                return "unknown CUDA error";
            }
            return out.get(ValueLayout.ADDRESS, 0).reinterpret(512).getString(0);
        }
    }

    /** The driver's name for a CUresult ("CUDA_ERROR_NO_DEVICE"). */
    String errorName(int result) {
        try (Arena a = NativeMemory.confined()) {
            MemorySegment out = a.allocate(ValueLayout.ADDRESS);
            if (call("cuGetErrorName", result, out) != 0) {
                return "CUDA error " + result;
            }
            return out.get(ValueLayout.ADDRESS, 0).reinterpret(256).getString(0);
        }
    }
}
