package dev.kernelbridge.cuda;

import dev.kernelbridge.DType;
import dev.kernelbridge.DeviceException;
import dev.kernelbridge.DeviceKind;
import dev.kernelbridge.DeviceLostException;
import dev.kernelbridge.spi.BackendBuffer;
import dev.kernelbridge.spi.BackendDevice;
import dev.kernelbridge.spi.DeviceInfo;
import dev.kernelbridge.spi.GemmCall;
import dev.kernelbridge.spi.NativeMemory;
import dev.kernelbridge.tuning.GemmParameters;
import dev.kernelbridge.tuning.GemmVariant;
import dev.kernelbridge.tuning.GroupedGemmTable;
import dev.kernelbridge.tuning.TuningDatabase;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One GPU: its primary context, one non-blocking stream, the GEMM modules per dtype, packing
 * buffers, page-locked staging. Every driver call is checked; a sticky error poisons the device — it
 * is reported lost and every later call fails fast with {@link DeviceLostException}, never touching
 * the context again. Copies and GEMMs run on the device's own stream (a copy on another stream would
 * race the kernels that read it) and end with one stream synchronisation each.
 * Thread-safe: GEMMs and copies run one at a time under the device lock (they share the packing and
 * staging buffers). The context is made current after the lock is taken, with no blocking between
 * that and the driver calls of the operation, so a virtual thread cannot resume on a carrier without it.
 */
final class CudaDevice implements BackendDevice {
    static final int ATTRIBUTE_CC_MAJOR = 75, ATTRIBUTE_CC_MINOR = 76;
    static final int STREAM_NON_BLOCKING = 1;
    /** The packed operands of one launch stay below this; bigger batches run in chunks. */
    private static final long PACKING_LIMIT = 512L << 20;
    /** Page-locked staging for heap copies: two halves, one filled while the other's DMA runs. */
    private static final long STAGING = 16L << 20;
    /** Launch ranges (3 x u64 each) that may be in flight on the stream before it is drained. */
    static final int RANGE_SLOTS = 1024;
    /** Calibration shapes are capped at this size per dimension (memory; the class's behaviour is set by then). */
    static final long CALIBRATION_CAP = 4096;

    private static final System.Logger LOG = System.getLogger("dev.kernelbridge.cuda");
    /**
     * Every GPU takes every type: gemm.cl has a build per type pair (the narrow types need no
     * hardware support: F16 and BF16 widen to F32 when packed), and cuBLAS serves them where it can.
     */
    static final Set<DType> DTYPES = Set.of(DType.F32, DType.F64, DType.BF16, DType.F16, DType.I8, DType.I32);

    private final CudaDriver cu;
    private final String id;
    private final int ordinal;
    /** The driver's CUdevice handle for the ordinal (cuDeviceGet): what the attribute and context calls take. */
    private final int handle;
    private final MemorySegment context;
    private final MemorySegment stream;
    private final int computeCapability;
    private final DeviceInfo info;
    private final ReentrantLock lock = new ReentrantLock();
    /** gemm.cl's modules by type pair, loaded on first use. */
    private final Map<GemmVariant, CudaModule> gemmModules = new HashMap<>();
    private final TuningDatabase tuning;
    private final String driverVersion;
    /** Reused device buffers: packed A, packed B, a grouped launch's table (or cuBLAS's pointer arrays) and scalars. */
    private final long[] packing = new long[4], packingBytes = new long[4];
    private volatile DeviceLostException poisoned;
    /** Set by close: a late call must not touch the freed staging, range ring or stream. */
    private volatile boolean closed;
    private final Cublas cublas = Cublas.load().orElse(null);
    private MemorySegment cublasHandle;
    private final GemmPaths paths;
    private MemorySegment staging, ranges;
    private int rangeSlot;
    /** The GPU's PCI bus id ("0000:3b:00.0"), or null where the driver gives none. */
    private final String pciBusId;
    /** Its health counters through NVML; started on the first reading, independent of the context (a lost device still reports). */
    private final NvmlTelemetry telemetry;

    CudaDevice(CudaDriver cu, String id, int ordinal, TuningDatabase tuning, String driverVersion, GemmPaths.Mode gemmMode) {
        this.cu = cu;
        this.id = id;
        this.ordinal = ordinal;
        this.tuning = tuning;
        this.driverVersion = driverVersion;
        this.paths = new GemmPaths(gemmMode);
        try (Arena a = NativeMemory.confined()) {
            MemorySegment dev = a.allocate(ValueLayout.JAVA_INT);
            check("cuDeviceGet", cu.call("cuDeviceGet", dev, ordinal));
            handle = dev.get(ValueLayout.JAVA_INT, 0);
            MemorySegment out = a.allocate(ValueLayout.ADDRESS);
            check("cuDevicePrimaryCtxRetain", cu.call("cuDevicePrimaryCtxRetain", out, handle));
            context = out.get(ValueLayout.ADDRESS, 0);
            check("cuCtxSetCurrent", cu.ctxSetCurrent(context));
            check("cuStreamCreate", cu.call("cuStreamCreate", out, STREAM_NON_BLOCKING));
            stream = out.get(ValueLayout.ADDRESS, 0);
            MemorySegment v = a.allocate(ValueLayout.JAVA_INT);
            check("cuDeviceGetAttribute", cu.call("cuDeviceGetAttribute", v, ATTRIBUTE_CC_MAJOR, handle));
            int major = v.get(ValueLayout.JAVA_INT, 0);
            check("cuDeviceGetAttribute", cu.call("cuDeviceGetAttribute", v, ATTRIBUTE_CC_MINOR, handle));
            computeCapability = major * 10 + v.get(ValueLayout.JAVA_INT, 0);
            MemorySegment name = a.allocate(256);
            check("cuDeviceGetName", cu.call("cuDeviceGetName", name, 256, handle));
            MemorySegment total = a.allocate(ValueLayout.JAVA_LONG);
            check("cuDeviceTotalMem", cu.call("cuDeviceTotalMem", total, handle));
            // One cuMemAlloc may take the whole memory: the capability is the total; what others hold at the
            // moment is cuMemAlloc's own CUDA_ERROR_OUT_OF_MEMORY, typed like any device's.
            info = new DeviceInfo(name.getString(0) + " (sm_" + computeCapability + ")", "NVIDIA", DeviceKind.GPU,
                    total.get(ValueLayout.JAVA_LONG, 0), total.get(ValueLayout.JAVA_LONG, 0), DTYPES);
            // 13 characters and a NUL ("0000:3b:00.0"); a failure only costs the telemetry, never the device
            MemorySegment bus = a.allocate(Nvml.DEVICE_PCI_BUS_ID_BUFFER_SIZE);
            pciBusId = cu.call("cuDeviceGetPCIBusId", bus, Nvml.DEVICE_PCI_BUS_ID_BUFFER_SIZE, handle) == CudaErrors.CUDA_SUCCESS
                    ? bus.getString(0) : null;
        }
        telemetry = new NvmlTelemetry(() -> Nvml.shared(cu.location()), pciBusId, id);
    }

    String id() { return id; }

    CudaDriver driver() { return cu; }

    MemorySegment stream() { return stream; }

    int computeCapability() { return computeCapability; }

    int ordinal() { return ordinal; }

    long packingLimit() { return PACKING_LIMIT; }

    @Override
    public DeviceInfo info() { return info; }

    /** NVML's counters for this GPU, at most a second old; unknown fields where NVML is absent or does not say. Never throws. */
    @Override
    public dev.kernelbridge.DeviceTelemetry telemetry() {
        return telemetry.read();
    }

    /** The PCI bus id and what NVML gives this device (its driver version, or why it gives nothing). */
    @Override
    public Map<String, String> details() {
        Map<String, String> d = new java.util.LinkedHashMap<>();
        d.put("pci.bus.id", pciBusId == null ? "unknown" : pciBusId);
        d.put("nvml", telemetry.describe());
        return d;
    }

    /** Makes this device's context current on the calling thread; fails fast once poisoned. */
    void enter() {
        if (closed) { // a call abandoned at its deadline may come back after close freed the staging, ring and stream
            throw new IllegalStateException(id + " is closed: its bridge was closed");
        }
        DeviceLostException p = poisoned;
        if (p != null) {
            throw new DeviceLostException(id, p.nativeCode(), p.nativeName(), "out of service since an earlier fault: " + p.getMessage(), p);
        }
        check("cuCtxSetCurrent", cu.ctxSetCurrent(context));
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

    /** Waits for everything queued on the stream; a fault of any of it surfaces here. */
    void synchronize() {
        check("cuStreamSynchronize", cu.streamSynchronize(stream));
        rangeSlot = 0;
    }

    /**
     * A page-locked slot for one launch's range, which the stream copies to the module when it gets to
     * the launch (so the slot must outlive the call); the stream is drained when every slot is in flight.
     * Call under the lock.
     */
    MemorySegment rangeSlot() {
        if (ranges == null) {
            ranges = pinned(RANGE_SLOTS * 24L);
        }
        if (rangeSlot == RANGE_SLOTS) {
            synchronize();
        }
        return ranges.asSlice(24L * rangeSlot++, 24);
    }

    private MemorySegment pinned(long bytes) {
        try (Arena a = NativeMemory.confined()) {
            MemorySegment out = a.allocate(ValueLayout.ADDRESS);
            check("cuMemAllocHost", cu.call("cuMemAllocHost", out, bytes));
            return out.get(ValueLayout.ADDRESS, 0).reinterpret(bytes);
        }
    }

    @Override
    public BackendBuffer allocate(DType dtype, long elements) {
        long bytes = Math.max(1, Math.multiplyExact(elements, (long) dtype.byteSize()));
        lock.lock();
        try {
            enter();
            return new CudaBuffer(this, deviceAlloc(bytes), bytes);
        } finally {
            lock.unlock();
        }
    }

    private long deviceAlloc(long bytes) {
        try (Arena a = NativeMemory.confined()) {
            MemorySegment out = a.allocate(ValueLayout.JAVA_LONG);
            check("cuMemAlloc", cu.call("cuMemAlloc", out, bytes));
            return out.get(ValueLayout.JAVA_LONG, 0);
        }
    }

    /** Frees device memory without throwing: a poisoned context is left to the process's end. */
    void free(long pointer) {
        lock.lock();
        try {
            if (poisoned == null && cu.ctxSetCurrent(context) == 0) {
                cu.call("cuMemFree", pointer);
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Host to device on the stream: the caller's memory directly when only the calling thread can free
     * it (the copy is asynchronous, and FFM keeps an arena open only during the call that starts it);
     * heap, shared and automatic memory through the page-locked staging halves.
     */
    void copyIn(long target, MemorySegment source) {
        lock.lock();
        try {
            enter();
            boolean done = false;
            try {
                queueCopyIn(target, source);
                synchronize();
                done = true;
            } finally {
                if (!done) {
                    drain(); // a half of the staging may still be read by a queued copy: the next call refills it
                }
            }
        } finally {
            lock.unlock();
        }
    }

    /** The copies of {@link #copyIn(long, MemorySegment)}, queued on the stream; the caller synchronizes. */
    private void queueCopyIn(long target, MemorySegment source) {
        if (NativeMemory.onlyCallerCanFree(source)) {
            check("cuMemcpyHtoDAsync", cu.memcpyHtoDAsync(target, source, source.byteSize(), stream));
            return;
        }
        MemorySegment stage = staging();
        long half = STAGING / 2;
        for (long done = 0, i = 0; done < source.byteSize(); done += half, i++) {
            if (i >= 2) {
                synchronize(); // this half's previous DMA must have read it before it is refilled
            }
            long n = Math.min(half, source.byteSize() - done);
            MemorySegment slot = stage.asSlice((i & 1) * half, n);
            NativeMemory.copyOfCallers(source, done, slot, 0, n, "source");
            check("cuMemcpyHtoDAsync", cu.memcpyHtoDAsync(target + done, slot, n, stream));
        }
    }

    /** Device to host on the stream, the same way back. */
    void copyOut(long source, MemorySegment target) {
        lock.lock();
        try {
            enter();
            if (NativeMemory.onlyCallerCanFree(target)) {
                check("cuMemcpyDtoHAsync", cu.memcpyDtoHAsync(target, source, target.byteSize(), stream));
                synchronize();
                return;
            }
            MemorySegment stage = staging();
            for (long done = 0; done < target.byteSize(); done += STAGING) {
                long n = Math.min(STAGING, target.byteSize() - done);
                check("cuMemcpyDtoHAsync", cu.memcpyDtoHAsync(stage, source + done, n, stream));
                synchronize();
                NativeMemory.copyOfCallers(stage, 0, target, done, n, "target");
            }
        } finally {
            lock.unlock();
        }
    }

    private MemorySegment staging() {
        if (staging == null) {
            staging = pinned(STAGING);
        }
        return staging;
    }

    /** Reused buffer {@code slot} (0: packed A, 1: packed B, 2: grouped table, 3: grouped scalars) of at least {@code bytes}; call under the lock. */
    long packingBuffer(int slot, long bytes) {
        if (packingBytes[slot] < bytes) {
            if (packing[slot] != 0) {
                synchronize(); // queued kernels may still read the old one
                cu.call("cuMemFree", packing[slot]);
                packing[slot] = 0;
                packingBytes[slot] = 0;
            }
            packing[slot] = deviceAlloc(bytes);
            packingBytes[slot] = bytes;
        }
        return packing[slot];
    }

    @Override
    public void gemm(GemmCall call) {
        lock.lock();
        try {
            enter();
            GemmPaths.Path path = paths.pathFor(call, cublas != null, this::timeOnScratch);
            run(call, path);
            synchronize(); // one wait per GEMM; a sticky fault inside any of its launches surfaces here
        } finally {
            lock.unlock();
        }
    }

    /**
     * The groups in one cublasGemmGroupedBatchedEx where the loaded cuBLAS has it and takes them
     * ({@link GemmPaths#cublasGroupedRefusal}), else gemm.cl's grouped kernels in as few launches as
     * {@link GroupedGemmTable} allows (calls too large for the packing buffers alone on the plain path).
     * One stream synchronisation for the whole call.
     */
    @Override
    public void gemmGrouped(java.util.List<GemmCall> calls) {
        lock.lock();
        boolean done = false;
        try (Arena arena = NativeMemory.confined()) {
            try {
                gemmGrouped(calls, arena);
                synchronize(); // before the arena's host copies go; a fault in any launch surfaces here
                done = true;
            } finally {
                if (!done) {
                    drain(); // copies from the arena may still be queued when a launch fails
                }
            }
        } finally {
            lock.unlock();
        }
    }

    private void gemmGrouped(java.util.List<GemmCall> calls, Arena arena) {
        enter();
        if (paths.groupedByCublas(calls, cublas != null && cublas.hasGroupedGemm())) {
            viaCublasGrouped(calls, arena);
        } else {
            GroupedGemmTable.Plan plan = GroupedGemmTable.plan(calls, v -> gemmModule(v).parameters,
                    b -> ((CudaBuffer) b).pointer, packingLimit());
            for (GroupedGemmTable.Launch launch : plan.launches()) {
                CudaGemm.runGrouped(this, gemmModule(launch.variant()), launch, arena);
            }
            for (GemmCall call : plan.alone()) {
                ours(call);
            }
        }
    }

    /** Waits for this device's stream after a failure, ignoring its result: host memory it may read is about to go. */
    private void drain() {
        if (poisoned == null && !closed) {
            cu.streamSynchronize(stream);
        }
    }

    private void run(GemmCall call, GemmPaths.Path path) {
        if (path == GemmPaths.Path.CUBLAS) {
            viaCublas(call);
        } else {
            ours(call);
        }
    }

    /**
     * Times {@code path} on scratch buffers shaped like {@code call}'s class (batch 1, sizes capped), the
     * way {@link GemmPaths} wants it: one untimed run, then timed runs, each to the end of the stream;
     * -1 when the scratch does not fit in memory.
     */
    private Long timeOnScratch(GemmCall call, GemmPaths.Path path) {
        long m = Math.min(call.m(), CALIBRATION_CAP), n = Math.min(call.n(), CALIBRATION_CAP), k = Math.min(call.k(), CALIBRATION_CAP);
        long in = call.inputType().byteSize(), out = call.dtype().byteSize();
        boolean ta = call.transA() != dev.kernelbridge.Transpose.NO_TRANS, tb = call.transB() != dev.kernelbridge.Transpose.NO_TRANS;
        // Leading dimensions rounded up to 4: cuBLAS's int8 rule, so an eligible class times cuBLAS on an eligible scratch.
        long lda = roundUp4(ta ? k : m), ldb = roundUp4(tb ? n : k);
        long[] buffers = new long[3], bytes = {Math.max(1, lda * (ta ? m : k) * in), Math.max(1, ldb * (tb ? k : n) * in), Math.max(1, m * n * out)};
        try {
            for (int i = 0; i < 3; i++) {
                buffers[i] = deviceAlloc(bytes[i]);
                check("cuMemsetD8Async", cu.call("cuMemsetD8Async", buffers[i], 0, bytes[i], stream)); // zeros: no NaN or denormal
            }
            CudaBuffer a = new CudaBuffer(this, buffers[0], bytes[0]), b = new CudaBuffer(this, buffers[1], bytes[1]);
            CudaBuffer c = new CudaBuffer(this, buffers[2], bytes[2]);
            GemmCall scratch = new GemmCall(call.dtype(), call.transA(), call.transB(), m, n, k, 1, a, 0, lda, 0,
                    b, 0, ldb, 0, 0, c, 0, Math.max(1, m), 0, 1, call.inputType(), 0, 0);
            long t = GemmPaths.time(3, i -> {
                long t0 = System.nanoTime();
                run(scratch, path);
                synchronize();
                return System.nanoTime() - t0;
            });
            LOG.log(System.Logger.Level.DEBUG, "{0}: {1} on {2}x{3}x{4} {5}: {6} us", id, path, m, n, k, GemmVariant.of(call), t / 1000);
            return t;
        } catch (dev.kernelbridge.DeviceOutOfMemoryException e) {
            return -1L;
        } finally {
            for (long b : buffers) {
                if (b != 0) {
                    cu.call("cuMemFree", b);
                }
            }
        }
    }

    private static long roundUp4(long x) {
        return Math.max(4, (x + 3) / 4 * 4);
    }

    /** The routine serving the class of {@code call} once decided (CUBLAS or KERNEL), or null. For the GPU check's report. */
    GemmPaths.Path decidedPath(GemmCall call) {
        lock.lock();
        try {
            return paths.decided(call);
        } finally {
            lock.unlock();
        }
    }

    private void ours(GemmCall call) {
        CudaGemm.run(this, gemmModule(GemmVariant.of(call)), call);
    }

    /** gemm.cl's module for {@code variant}, loaded on first use. */
    private CudaModule gemmModule(GemmVariant variant) {
        CudaModule module = gemmModules.get(variant);
        if (module == null) {
            module = CudaModule.load(this, "gemm", variant.label(), variant.defines(), gemmParameters(variant.tuningType()));
            LOG.log(System.Logger.Level.DEBUG, "{0}: gemm {1} from {2}", id, variant, module.origin);
            gemmModules.put(variant, module);
        }
        return module;
    }

    /**
     * The GEMM tunables for {@code dtype} (a {@link GemmVariant#tuningType}: narrow pairs run F32's): the user's tuning database ({@code <cache>/tuning/cuda.json},
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
            LOG.log(System.Logger.Level.WARNING,
                    "{0}: tuning entry {1} has KB_VW={2}; CUDA builds need 1, using the shipped parameters", deviceId, p, p.vw());
            return CudaModule.PTX_PARAMETERS;
        }
        return p;
    }

    /** The call through cublasGemmEx (or its strided-batched form) with the types of its pair; see {@link Cublas.GemmTypes}. */
    private void viaCublas(GemmCall c) {
        if (cublasHandle == null) {
            cublasHandle = cublas.create(stream);
        }
        Cublas.GemmTypes types = Cublas.GemmTypes.of(c.inputType(), c.dtype());
        long in = c.inputType().byteSize(), out = c.dtype().byteSize();
        int ta = c.transA() == dev.kernelbridge.Transpose.NO_TRANS ? Cublas.OP_N : Cublas.OP_T;
        int tb = c.transB() == dev.kernelbridge.Transpose.NO_TRANS ? Cublas.OP_N : Cublas.OP_T;
        long a = ((CudaBuffer) c.a()).pointer + c.offsetA() * in, b = ((CudaBuffer) c.b()).pointer + c.offsetB() * in;
        long cc = ((CudaBuffer) c.c()).pointer + c.offsetC() * out;
        try (Arena arena = NativeMemory.confined()) {
            MemorySegment alpha = scalar(arena, types.scalar(), c.alpha()), beta = scalar(arena, types.scalar(), c.beta());
            // cuBLAS reads alpha and beta (host pointer mode) before these calls return.
            int status = c.batchCount() == 1
                    ? cublas.call("cublasGemmEx", cublasHandle, ta, tb, (int) c.m(), (int) c.n(), (int) c.k(), alpha,
                            MemorySegment.ofAddress(a), types.ab(), (int) c.lda(), MemorySegment.ofAddress(b), types.ab(), (int) c.ldb(), beta,
                            MemorySegment.ofAddress(cc), types.c(), (int) c.ldc(), types.compute(), Cublas.GEMM_DEFAULT)
                    : cublas.call("cublasGemmStridedBatchedEx", cublasHandle, ta, tb, (int) c.m(), (int) c.n(), (int) c.k(), alpha,
                            MemorySegment.ofAddress(a), types.ab(), (int) c.lda(), c.strideA(), MemorySegment.ofAddress(b), types.ab(), (int) c.ldb(),
                            c.strideB(), beta, MemorySegment.ofAddress(cc), types.c(), (int) c.ldc(), c.strideC(), (int) c.batchCount(),
                            types.compute(), Cublas.GEMM_DEFAULT);
            if (status != 0) {
                synchronize(); // a sticky fault inside cuBLAS is the better report
                throw new DeviceException(id, status, "CUBLAS_STATUS_" + status, "cublasGemmEx (" + GemmVariant.of(c) + ") failed: "
                        + cublas.statusString(status));
            }
        }
    }

    /**
     * The groups through cublasGemmGroupedBatchedEx: one cuBLAS group per call (its shape, transposes,
     * leading dimensions and scalars), each batch item one problem; the A, B and C pointers of every
     * problem go to the device in one copy (cuBLAS reads them there), the rest stays on the host.
     */
    private void viaCublasGrouped(java.util.List<GemmCall> calls, Arena arena) {
        if (cublasHandle == null) {
            cublasHandle = cublas.create(stream);
        }
        GemmCall first = calls.getFirst();
        Cublas.GemmTypes types = Cublas.GemmTypes.of(first.inputType(), first.dtype());
        long in = first.inputType().byteSize(), out = first.dtype().byteSize();
        int groups = calls.size();
        int problems = calls.stream().mapToInt(c -> (int) c.batchCount()).sum();
        MemorySegment ta = arena.allocate(ValueLayout.JAVA_INT, groups), tb = arena.allocate(ValueLayout.JAVA_INT, groups);
        MemorySegment m = arena.allocate(ValueLayout.JAVA_INT, groups), n = arena.allocate(ValueLayout.JAVA_INT, groups);
        MemorySegment k = arena.allocate(ValueLayout.JAVA_INT, groups), sizes = arena.allocate(ValueLayout.JAVA_INT, groups);
        MemorySegment lda = arena.allocate(ValueLayout.JAVA_INT, groups), ldb = arena.allocate(ValueLayout.JAVA_INT, groups);
        MemorySegment ldc = arena.allocate(ValueLayout.JAVA_INT, groups);
        long scalarBytes = types.scalar().byteSize();
        MemorySegment alpha = arena.allocate(scalarBytes * groups, 8), beta = arena.allocate(scalarBytes * groups, 8);
        MemorySegment pointers = arena.allocate(ValueLayout.JAVA_LONG, 3L * problems); // all A, then all B, then all C
        int p = 0;
        for (int g = 0; g < groups; g++) {
            GemmCall c = calls.get(g);
            ta.setAtIndex(ValueLayout.JAVA_INT, g, c.transA() == dev.kernelbridge.Transpose.NO_TRANS ? Cublas.OP_N : Cublas.OP_T);
            tb.setAtIndex(ValueLayout.JAVA_INT, g, c.transB() == dev.kernelbridge.Transpose.NO_TRANS ? Cublas.OP_N : Cublas.OP_T);
            m.setAtIndex(ValueLayout.JAVA_INT, g, (int) c.m());
            n.setAtIndex(ValueLayout.JAVA_INT, g, (int) c.n());
            k.setAtIndex(ValueLayout.JAVA_INT, g, (int) c.k());
            lda.setAtIndex(ValueLayout.JAVA_INT, g, (int) c.lda());
            ldb.setAtIndex(ValueLayout.JAVA_INT, g, (int) c.ldb());
            ldc.setAtIndex(ValueLayout.JAVA_INT, g, (int) c.ldc());
            sizes.setAtIndex(ValueLayout.JAVA_INT, g, (int) c.batchCount());
            MemorySegment.copy(scalar(arena, types.scalar(), c.alpha()), 0, alpha, g * scalarBytes, scalarBytes);
            MemorySegment.copy(scalar(arena, types.scalar(), c.beta()), 0, beta, g * scalarBytes, scalarBytes);
            for (long item = 0; item < c.batchCount(); item++, p++) {
                pointers.setAtIndex(ValueLayout.JAVA_LONG, p, ((CudaBuffer) c.a()).pointer + (c.offsetA() + item * c.strideA()) * in);
                pointers.setAtIndex(ValueLayout.JAVA_LONG, problems + p, ((CudaBuffer) c.b()).pointer + (c.offsetB() + item * c.strideB()) * in);
                pointers.setAtIndex(ValueLayout.JAVA_LONG, 2L * problems + p, ((CudaBuffer) c.c()).pointer + (c.offsetC() + item * c.strideC()) * out);
            }
        }
        long onDevice = packingBuffer(2, pointers.byteSize());
        check("cuMemcpyHtoDAsync", cu.memcpyHtoDAsync(onDevice, pointers, pointers.byteSize(), stream));
        // cuBLAS reads the host arrays (host pointer mode) before the call returns; the arena outlives the stream's work anyway.
        int status = cublas.call("cublasGemmGroupedBatchedEx", cublasHandle, ta, tb, m, n, k, alpha,
                MemorySegment.ofAddress(onDevice), types.ab(), lda, MemorySegment.ofAddress(onDevice + 8L * problems), types.ab(), ldb,
                beta, MemorySegment.ofAddress(onDevice + 16L * problems), types.c(), ldc, groups, sizes, types.compute());
        if (status != 0) {
            synchronize(); // a sticky fault inside cuBLAS is the better report
            throw new DeviceException(id, status, "CUBLAS_STATUS_" + status, "cublasGemmGroupedBatchedEx (" + groups + " groups of "
                    + GemmVariant.of(first) + ") failed: " + cublas.statusString(status));
        }
    }

    /** alpha or beta in the compute type's scalar: double, int32 or float. */
    private static MemorySegment scalar(Arena arena, DType type, double v) {
        return switch (type) {
            case F64 -> arena.allocateFrom(ValueLayout.JAVA_DOUBLE, v);
            case I32 -> arena.allocateFrom(ValueLayout.JAVA_INT, (int) v);
            default -> arena.allocateFrom(ValueLayout.JAVA_FLOAT, (float) v);
        };
    }

    void close() {
        lock.lock();
        try {
            closed = true;
            if (poisoned != null) {
                return; // the context cannot be trusted with more calls
            }
            if (cu.ctxSetCurrent(context) == 0) {
                cu.streamSynchronize(stream);
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
                for (MemorySegment host : new MemorySegment[] {staging, ranges}) {
                    if (host != null) {
                        cu.call("cuMemFreeHost", host);
                    }
                }
                cu.call("cuStreamDestroy", stream);
            }
            cu.call("cuDevicePrimaryCtxRelease", handle);
        } finally {
            lock.unlock();
            telemetry.close();
        }
    }
}
