package dev.kernelbridge.cuda;

import dev.kernelbridge.DType;
import dev.kernelbridge.DeviceException;
import dev.kernelbridge.DeviceKind;
import dev.kernelbridge.DeviceLostException;
import dev.kernelbridge.spi.BackendBuffer;
import dev.kernelbridge.spi.BackendDevice;
import dev.kernelbridge.spi.DeviceInfo;
import dev.kernelbridge.spi.GemmCall;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.EnumMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One GPU: its primary context, one non-blocking stream, the GEMM modules per dtype, packing
 * buffers. Every driver call is checked; a sticky error poisons the device — it is reported lost and
 * every later call fails fast with {@link DeviceLostException}, never touching the context again.
 * Thread-safe: GEMMs run one at a time under the device lock (they share the packing buffers).
 */
final class CudaDevice implements BackendDevice {
    static final int ATTRIBUTE_CC_MAJOR = 75, ATTRIBUTE_CC_MINOR = 76;
    static final int STREAM_NON_BLOCKING = 1;
    /** The packed operands of one launch stay below this; bigger batches run in chunks. */
    private static final long PACKING_LIMIT = 512L << 20;

    private final CudaDriver cu;
    private final String id;
    private final int ordinal;
    private final MemorySegment context;
    private final MemorySegment stream;
    private final int computeCapability;
    private final DeviceInfo info;
    private final ReentrantLock lock = new ReentrantLock();
    private final Map<DType, CudaModule> gemmModules = new EnumMap<>(DType.class);
    private final CudaGemm gemm = new CudaGemm(CudaModule.parameters());
    private final long[] packing = new long[2], packingBytes = new long[2];
    private volatile DeviceLostException poisoned;

    CudaDevice(CudaDriver cu, String id, int ordinal) {
        this.cu = cu;
        this.id = id;
        this.ordinal = ordinal;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.ADDRESS);
            check("cuDevicePrimaryCtxRetain", cu.call("cuDevicePrimaryCtxRetain", out, ordinal));
            context = out.get(ValueLayout.ADDRESS, 0);
            check("cuCtxSetCurrent", cu.call("cuCtxSetCurrent", context));
            check("cuStreamCreate", cu.call("cuStreamCreate", out, STREAM_NON_BLOCKING));
            stream = out.get(ValueLayout.ADDRESS, 0);
            MemorySegment v = a.allocate(ValueLayout.JAVA_INT);
            check("cuDeviceGetAttribute", cu.call("cuDeviceGetAttribute", v, ATTRIBUTE_CC_MAJOR, ordinal));
            int major = v.get(ValueLayout.JAVA_INT, 0);
            check("cuDeviceGetAttribute", cu.call("cuDeviceGetAttribute", v, ATTRIBUTE_CC_MINOR, ordinal));
            computeCapability = major * 10 + v.get(ValueLayout.JAVA_INT, 0);
            MemorySegment name = a.allocate(256);
            check("cuDeviceGetName", cu.call("cuDeviceGetName", name, 256, ordinal));
            MemorySegment total = a.allocate(ValueLayout.JAVA_LONG);
            check("cuDeviceTotalMem", cu.call("cuDeviceTotalMem", total, ordinal));
            info = new DeviceInfo(name.getString(0) + " (sm_" + computeCapability + ")", "NVIDIA", DeviceKind.GPU,
                    total.get(ValueLayout.JAVA_LONG, 0), Set.of(DType.F32, DType.F64));
        }
    }

    String id() { return id; }

    CudaDriver driver() { return cu; }

    MemorySegment stream() { return stream; }

    int computeCapability() { return computeCapability; }

    long packingLimit() { return PACKING_LIMIT; }

    @Override
    public DeviceInfo info() { return info; }

    /** Makes this device's context current on the calling thread; fails fast once poisoned. */
    void enter() {
        DeviceLostException p = poisoned;
        if (p != null) {
            throw new DeviceLostException(id, p.nativeCode(), p.nativeName(), "out of service since an earlier fault: " + p.getMessage(), p);
        }
        check("cuCtxSetCurrent", cu.call("cuCtxSetCurrent", context));
    }

    /** Throws the typed exception for a failed call; a sticky error poisons the device first. */
    void check(String call, int result) {
        if (result == CudaErrors.CUDA_SUCCESS) {
            return;
        }
        DeviceException e = CudaErrors.exception(id, call, result, cu.errorName(result), cu.errorString(result));
        if (e instanceof DeviceLostException lost && poisoned == null) {
            poisoned = lost;
        }
        throw e;
    }

    @Override
    public BackendBuffer allocate(DType dtype, long elements) {
        long bytes = Math.max(1, Math.multiplyExact(elements, (long) dtype.byteSize()));
        enter();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ValueLayout.JAVA_LONG);
            check("cuMemAlloc", cu.call("cuMemAlloc", out, bytes));
            return new CudaBuffer(this, out.get(ValueLayout.JAVA_LONG, 0), bytes);
        }
    }

    /** Frees device memory without throwing: a poisoned context is left to the process's end. */
    void free(long pointer) {
        if (poisoned == null && cu.call("cuCtxSetCurrent", context) == 0) {
            cu.call("cuMemFree", pointer);
        }
    }

    /** Packing buffer {@code slot} (0: A, 1: B) of at least {@code bytes}; call under the lock. */
    long packingBuffer(int slot, long bytes) {
        if (packingBytes[slot] < bytes) {
            if (packing[slot] != 0) {
                free(packing[slot]);
                packing[slot] = 0;
                packingBytes[slot] = 0;
            }
            try (Arena a = Arena.ofConfined()) {
                MemorySegment out = a.allocate(ValueLayout.JAVA_LONG);
                check("cuMemAlloc", cu.call("cuMemAlloc", out, bytes));
                packing[slot] = out.get(ValueLayout.JAVA_LONG, 0);
                packingBytes[slot] = bytes;
            }
        }
        return packing[slot];
    }

    @Override
    public void gemm(GemmCall call) {
        lock.lock();
        try {
            enter();
            CudaModule module = gemmModules.get(call.dtype());
            if (module == null) {
                module = CudaModule.load(this, "gemm", call.dtype());
                gemmModules.put(call.dtype(), module);
            }
            gemm.run(this, module, call);
        } finally {
            lock.unlock();
        }
    }

    void close() {
        if (poisoned != null) {
            return; // the context cannot be trusted with more calls
        }
        lock.lock();
        try {
            if (cu.call("cuCtxSetCurrent", context) == 0) {
                for (long p : packing) {
                    if (p != 0) {
                        cu.call("cuMemFree", p);
                    }
                }
                for (CudaModule m : gemmModules.values()) {
                    cu.call("cuModuleUnload", m.module);
                }
                cu.call("cuStreamDestroy", stream);
            }
            cu.call("cuDevicePrimaryCtxRelease", ordinal);
        } finally {
            lock.unlock();
        }
    }
}
