package dev.kernelbridge.cuda;

import dev.kernelbridge.DType;
import dev.kernelbridge.DeviceException;
import dev.kernelbridge.DeviceKind;
import dev.kernelbridge.DeviceLostException;
import dev.kernelbridge.spi.BackendBuffer;
import dev.kernelbridge.spi.BackendDevice;
import dev.kernelbridge.spi.DeviceInfo;
import dev.kernelbridge.spi.GemmCall;
import dev.kernelbridge.tuning.GemmParameters;
import dev.kernelbridge.tuning.TuningDatabase;
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
    private final TuningDatabase tuning;
    private final String driverVersion;
    private final long[] packing = new long[2], packingBytes = new long[2];
    private volatile DeviceLostException poisoned;
    /** cuBLAS where installed, and per shape class which path measured faster (cuBLAS or gemm.cl). */
    private final Cublas cublas = Cublas.load().orElse(null);
    private MemorySegment cublasHandle;
    private final Map<Long, Boolean> cublasWins = new java.util.HashMap<>();
    private final Map<Long, long[]> trials = new java.util.HashMap<>();

    CudaDevice(CudaDriver cu, String id, int ordinal, TuningDatabase tuning, String driverVersion) {
        this.cu = cu;
        this.id = id;
        this.ordinal = ordinal;
        this.tuning = tuning;
        this.driverVersion = driverVersion;
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

    int ordinal() { return ordinal; }

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
            if (cublas == null || !fitsInt(call)) {
                ours(call);
                return;
            }
            long key = shapeClass(call);
            Boolean wins = cublasWins.get(key);
            if (wins != null) {
                if (wins) {
                    viaCublas(call);
                } else {
                    ours(call);
                }
                return;
            }
            // The first call of a class runs on cuBLAS, the second on gemm.cl; the faster serves the class from then on.
            long[] t = trials.computeIfAbsent(key, x -> new long[] {-1, -1});
            boolean tryCublas = t[0] < 0;
            long t0 = System.nanoTime();
            if (tryCublas) {
                viaCublas(call);
            } else {
                ours(call);
            }
            t[tryCublas ? 0 : 1] = System.nanoTime() - t0;
            if (t[0] >= 0 && t[1] >= 0) {
                cublasWins.put(key, t[0] <= t[1]);
            }
        } finally {
            lock.unlock();
        }
    }

    private void ours(GemmCall call) {
        CudaModule module = gemmModules.get(call.dtype());
        if (module == null) {
            module = CudaModule.load(this, "gemm", call.dtype(), gemmParameters(call.dtype()));
            gemmModules.put(call.dtype(), module);
        }
        CudaGemm.run(this, module, call);
    }

    /**
     * The GEMM tunables for {@code dtype}: the user's tuning database ({@code <cache>/tuning/cuda.json},
     * the same format and lookup as OpenCL's) where it has an entry for this GPU, else the shipped PTX's.
     * Entries with vector widths other than 1 are OpenCL-only and ignored here.
     */
    GemmParameters gemmParameters(DType dtype) {
        return gemmParameters(tuning, new TuningDatabase.Identity("NVIDIA", info.name(), driverVersion), dtype, id);
    }

    static GemmParameters gemmParameters(TuningDatabase tuning, TuningDatabase.Identity gpu, DType dtype, String deviceId) {
        var match = tuning.lookup("gemm", dtype.name(), gpu);
        if (match.isEmpty()) {
            return CudaModule.PTX_PARAMETERS;
        }
        GemmParameters p = GemmParameters.fromDefines(match.get().entry().parameters());
        if (p.vw() != 1) {
            System.getLogger("dev.kernelbridge.cuda").log(System.Logger.Level.WARNING,
                    "{0}: tuning entry {1} has KB_VW={2}; CUDA builds need 1, using the shipped parameters", deviceId, p, p.vw());
            return CudaModule.PTX_PARAMETERS;
        }
        return p;
    }

    /** cuBLAS takes 32-bit sizes and leading dimensions (LP64 build): larger calls go to gemm.cl. */
    static boolean fitsInt(GemmCall c) {
        long max = Integer.MAX_VALUE;
        return c.m() <= max && c.n() <= max && c.k() <= max && c.lda() <= max && c.ldb() <= max && c.ldc() <= max && c.batchCount() <= max;
    }

    /** dtype and the sizes' binary magnitudes: calls of one class behave alike on either path. */
    static long shapeClass(GemmCall c) {
        return ((long) c.dtype().ordinal() << 48) | ((long) (64 - Long.numberOfLeadingZeros(c.m())) << 32)
                | ((long) (64 - Long.numberOfLeadingZeros(c.n())) << 16) | (64 - Long.numberOfLeadingZeros(Math.max(1, c.k())))
                | (c.batchCount() > 1 ? 1L << 60 : 0);
    }

    private void viaCublas(GemmCall c) {
        if (cublasHandle == null) {
            cublasHandle = cublas.create(stream);
        }
        boolean f64 = c.dtype() == DType.F64;
        long es = c.dtype().byteSize();
        int type = f64 ? Cublas.CUDA_R_64F : Cublas.CUDA_R_32F, compute = f64 ? Cublas.COMPUTE_64F : Cublas.COMPUTE_32F;
        int ta = c.transA() == dev.kernelbridge.Transpose.NO_TRANS ? Cublas.OP_N : Cublas.OP_T;
        int tb = c.transB() == dev.kernelbridge.Transpose.NO_TRANS ? Cublas.OP_N : Cublas.OP_T;
        long a = ((CudaBuffer) c.a()).pointer + c.offsetA() * es, b = ((CudaBuffer) c.b()).pointer + c.offsetB() * es;
        long cc = ((CudaBuffer) c.c()).pointer + c.offsetC() * es;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment alpha = f64 ? arena.allocateFrom(ValueLayout.JAVA_DOUBLE, c.alpha()) : arena.allocateFrom(ValueLayout.JAVA_FLOAT, (float) c.alpha());
            MemorySegment beta = f64 ? arena.allocateFrom(ValueLayout.JAVA_DOUBLE, c.beta()) : arena.allocateFrom(ValueLayout.JAVA_FLOAT, (float) c.beta());
            int status = c.batchCount() == 1
                    ? cublas.call("cublasGemmEx", cublasHandle, ta, tb, (int) c.m(), (int) c.n(), (int) c.k(), alpha,
                            MemorySegment.ofAddress(a), type, (int) c.lda(), MemorySegment.ofAddress(b), type, (int) c.ldb(), beta,
                            MemorySegment.ofAddress(cc), type, (int) c.ldc(), compute, Cublas.GEMM_DEFAULT)
                    : cublas.call("cublasGemmStridedBatchedEx", cublasHandle, ta, tb, (int) c.m(), (int) c.n(), (int) c.k(), alpha,
                            MemorySegment.ofAddress(a), type, (int) c.lda(), c.strideA(), MemorySegment.ofAddress(b), type, (int) c.ldb(),
                            c.strideB(), beta, MemorySegment.ofAddress(cc), type, (int) c.ldc(), c.strideC(), (int) c.batchCount(),
                            compute, Cublas.GEMM_DEFAULT);
            check("cuStreamSynchronize", cu.call("cuStreamSynchronize", stream)); // a sticky fault inside cuBLAS surfaces here
            if (status != 0) {
                throw new DeviceException(id, status, "CUBLAS_STATUS_" + status, "cublasGemmEx failed: " + cublas.statusString(status));
            }
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
                if (cublasHandle != null) {
                    cublas.call("cublasDestroy_v2", cublasHandle);
                }
                cu.call("cuStreamDestroy", stream);
            }
            cu.call("cuDevicePrimaryCtxRelease", ordinal);
        } finally {
            lock.unlock();
        }
    }
}
