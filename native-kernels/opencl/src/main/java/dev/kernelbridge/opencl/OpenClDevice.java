package dev.kernelbridge.opencl;

import static org.lwjgl.opencl.CL10.*;

import dev.kernelbridge.DType;
import dev.kernelbridge.DeviceKind;
import dev.kernelbridge.DeviceOutOfMemoryException;
import dev.kernelbridge.ReduceOp;
import dev.kernelbridge.TuningReport;
import dev.kernelbridge.events.TuningLookupEvent;
import dev.kernelbridge.spi.BackendBuffer;
import dev.kernelbridge.spi.BackendDevice;
import dev.kernelbridge.spi.DeviceInfo;
import dev.kernelbridge.spi.GemmCall;
import dev.kernelbridge.spi.NativeMemory;
import dev.kernelbridge.spi.TunableDevice;
import dev.kernelbridge.tuning.GemmParameters;
import dev.kernelbridge.tuning.GemmVariant;
import dev.kernelbridge.tuning.GroupedGemmTable;
import dev.kernelbridge.tuning.TuningDatabase;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One OpenCL device. GEMMs on it are serialised by a lock: a device runs one GEMM at a time at
 * full width anyway, and the shared kernel objects and packing buffers need it. Buffers may be
 * copied concurrently (the queue is thread-safe for enqueues).
 */
final class OpenClDevice implements BackendDevice, TunableDevice {
    /** Packing buffers are reused between calls and grow up to this before batches are split. */
    private static final long PACKING_LIMIT = 256L << 20;

    private final String id;
    private final long handle;
    private final long context;
    private final OpenClQueue queue;
    private final DeviceInfo info;
    private final String driverVersion;
    private final long maxAllocation;
    private final TuningDatabase tuning;
    private final Path programCache;
    private final ReentrantLock lock = new ReentrantLock();
    /** Set by close, under the lock; read under it, except by allocations. */
    private volatile boolean closed;
    /** Built GEMM programs by type pair; a pair is built on first use. */
    private final Map<GemmVariant, Gemm> gemms = new HashMap<>();
    private final Map<DType, OpenClProgram> reductions = new EnumMap<>(DType.class);
    private final long baseAlignBytes;
    private final boolean f32Denormals;
    private final boolean f32CorrectDivision;
    /** Reused device buffers: packed A, packed B, a grouped launch's table and its scalars. */
    private final long[] packing = new long[4];
    private final long[] packingBytes = new long[4];

    /** A built GEMM program and the parameters it was built with. */
    record Gemm(OpenClProgram program, GemmParameters parameters, String origin) { }

    private final Path tuningFile;

    OpenClDevice(String id, long handle, long context, TuningDatabase tuning, Path tuningFile, Path programCache) {
        this.tuningFile = tuningFile;
        this.id = id;
        this.handle = handle;
        this.context = context;
        this.tuning = tuning;
        this.programCache = programCache;
        String name = stringInfo(handle, CL_DEVICE_NAME);
        String vendor = stringInfo(handle, CL_DEVICE_VENDOR);
        this.driverVersion = stringInfo(handle, CL_DRIVER_VERSION);
        long type = longInfo(handle, CL_DEVICE_TYPE);
        DeviceKind kind = (type & CL_DEVICE_TYPE_GPU) != 0 ? DeviceKind.GPU
                : (type & CL_DEVICE_TYPE_CPU) != 0 ? DeviceKind.CPU
                : (type & CL_DEVICE_TYPE_ACCELERATOR) != 0 ? DeviceKind.ACCELERATOR : DeviceKind.OTHER;
        // The narrow inputs need nothing beyond OpenCL 1.2 (F16 through vload_half/vstore_half, BF16 and
        // I8 as integers), so every device takes them, and I32 for I8's results.
        Set<DType> dtypes = EnumSet.of(DType.F32, DType.BF16, DType.F16, DType.I8, DType.I32);
        if (longInfo(handle, org.lwjgl.opencl.CL12.CL_DEVICE_DOUBLE_FP_CONFIG) != 0) {
            dtypes.add(DType.F64);
        }
        this.maxAllocation = longInfo(handle, CL_DEVICE_MAX_MEM_ALLOC_SIZE);
        this.baseAlignBytes = Math.max(1, longInfo(handle, CL_DEVICE_MEM_BASE_ADDR_ALIGN) / 8);
        long fp32 = longInfo(handle, CL_DEVICE_SINGLE_FP_CONFIG);
        this.f32Denormals = (fp32 & CL_FP_DENORM) != 0;
        this.f32CorrectDivision = (fp32 & org.lwjgl.opencl.CL12.CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT) != 0;
        this.info = new DeviceInfo(name, vendor, kind, longInfo(handle, CL_DEVICE_GLOBAL_MEM_SIZE), maxAllocation, dtypes);
        this.queue = new OpenClQueue(context, handle, id);
    }

    String id() { return id; }

    long handle() { return handle; }

    long context() { return context; }

    long queue() { return queue.handle(); }

    /**
     * Runs a host transfer on this device's queue under its lock, refused once the device is closed: a
     * call abandoned at its deadline may come back after close released the queue.
     */
    void transfer(Runnable transfer) {
        lock.lock();
        try {
            requireOpen();
            transfer.run();
        } finally {
            lock.unlock();
        }
    }

    String driverVersion() { return driverVersion; }

    long maxAllocation() { return maxAllocation; }

    TuningDatabase.Identity identity() { return new TuningDatabase.Identity(info.vendor(), info.name(), driverVersion); }

    @Override
    public DeviceInfo info() { return info; }

    /**
     * Refuses work once {@link #close} released the queue and programs (checked under the lock). A call the
     * pool abandoned at its deadline may still come here later, and PoCL would crash on a released queue.
     */
    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException(id + " is closed: its bridge was closed");
        }
    }

    @Override
    public BackendBuffer allocate(DType dtype, long elements) {
        long bytes = elements * dtype.byteSize();
        return new OpenClBuffer(this, createBuffer(bytes), bytes);
    }

    long createBuffer(long bytes) {
        if (bytes > maxAllocation) {
            throw new DeviceOutOfMemoryException(id, ClErrors.CL_INVALID_BUFFER_SIZE, "CL_INVALID_BUFFER_SIZE",
                    bytes + " bytes exceed the largest single allocation of this device (CL_DEVICE_MAX_MEM_ALLOC_SIZE = "
                            + maxAllocation + ")");
        }
        requireOpen(); // not under the lock: an allocation need not wait for a GEMM; close releases the context last
        try (Arena arena = NativeMemory.confined()) {
            MemorySegment err = arena.allocate(ValueLayout.JAVA_INT);
            long mem = nclCreateBuffer(context, CL_MEM_READ_WRITE, Math.max(1, bytes), 0, err.address());
            ClErrors.check(err.get(ValueLayout.JAVA_INT, 0), id, "clCreateBuffer of " + bytes + " bytes");
            return mem;
        }
    }

    @Override
    public void gemm(GemmCall call) {
        lock.lock();
        try {
            requireOpen();
            Gemm g = gemmFor(GemmVariant.of(call));
            GemmLauncher.run(this, g, call);
        } finally {
            lock.unlock();
        }
    }

    /**
     * The groups in as few launches as {@link GroupedGemmTable} allows — one per type pair unless a
     * call brings more than {@link GroupedGemmTable#SLOTS} distinct buffers per operand — each a pack
     * of A, a pack of B and one gemm_grouped over every group's tiles. A call too large for one launch's
     * packing buffers runs alone on the plain path, which splits it into chunks itself.
     */
    @Override
    public void gemmGrouped(List<GemmCall> calls) {
        lock.lock();
        try {
            requireOpen();
            GroupedGemmTable.Plan plan = GroupedGemmTable.plan(calls, v -> gemmFor(v).parameters(), b -> ((OpenClBuffer) b).mem(),
                    packingLimit());
            for (GroupedGemmTable.Launch launch : plan.launches()) {
                GemmLauncher.runGrouped(this, gemmFor(launch.variant()), launch);
            }
            for (GemmCall call : plan.alone()) {
                GemmLauncher.run(this, gemmFor(GemmVariant.of(call)), call);
            }
        } finally {
            lock.unlock();
        }
    }

    @Override
    public boolean addresses(BackendDevice other) {
        return other instanceof OpenClDevice o && o.context == context;
    }

    /**
     * Runs this rank's share of a reduction with reduce.cl. Declines (false) what it cannot do with
     * the CPU's exact bits, or at all: a buffer outside this context, a share not aligned for a
     * sub-buffer, F32, BF16 or F16 (all computed in F32) on a device that flushes denormals or, for
     * avg, whose division is not correctly rounded; I8 (no kernel) and I32 avg (not defined).
     */
    @Override
    public boolean reduce(ReduceOp op, DType dtype, List<BackendBuffer> inputs, long inByteOffset,
                          List<BackendBuffer> outputs, long outByteOffset, long count) {
        if (inByteOffset % baseAlignBytes != 0 || outByteOffset % baseAlignBytes != 0) {
            return false;
        }
        for (List<BackendBuffer> list : List.of(inputs, outputs)) {
            for (BackendBuffer b : list) {
                if (!(b instanceof OpenClBuffer cl) || cl.device().context != context) {
                    return false; // host staging or another context: the host path serves
                }
            }
        }
        if (dtype.computeType() == DType.F32 && (!f32Denormals || (op == ReduceOp.AVG && !f32CorrectDivision))) {
            return false;
        }
        if (dtype == DType.I8 || (dtype == DType.I32 && op == ReduceOp.AVG)) {
            return false;
        }
        lock.lock();
        try {
            requireOpen();
            OpenClProgram program = reductions.get(dtype);
            if (program == null) {
                int storage = switch (dtype) { // reduce.cl's KB_STORAGE
                    case BF16 -> 1;
                    case F16 -> 2;
                    case I32 -> 3;
                    default -> 0;
                };
                String options = "-cl-std=CL1.2 -DKB_DOUBLE=" + (dtype == DType.F64 ? 1 : 0) + " -DKB_STORAGE=" + storage
                        + (f32CorrectDivision ? " -cl-fp32-correctly-rounded-divide-sqrt" : "");
                program = OpenClProgram.build(this, KernelSources.program("reduce.cl"), options, programCache);
                reductions.put(dtype, program);
            }
            ReduceLauncher.run(this, program, op, dtype, inputs, inByteOffset, outputs, outByteOffset, count);
            return true;
        } finally {
            lock.unlock();
        }
    }

    /**
     * An all-to-all block from a buffer of this context into one of this device's: one
     * clEnqueueCopyBuffer on this device's queue, so the bytes never visit the host. Other devices of
     * the context may read the source at the same time (only reads; OpenCL defines that), and only
     * this device writes the target.
     */
    @Override
    public boolean copy(BackendBuffer from, long fromByteOffset, BackendBuffer to, long toByteOffset, long bytes) {
        if (!(from instanceof OpenClBuffer source) || !(to instanceof OpenClBuffer target)
                || source.device().context != context || target.device() != this) {
            return false;
        }
        lock.lock();
        try {
            requireOpen();
            ClErrors.check(nclEnqueueCopyBuffer(queue(), source.mem(), target.mem(), fromByteOffset, toByteOffset, bytes, 0, 0, 0),
                    id, "clEnqueueCopyBuffer");
            queue.finish("all-to-all copy");
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Searches the GEMM tunables and records the winners in the user's tuning file (see {@link GemmTuner}). */
    @Override
    public TuningReport tune(Duration budget, TuningReport.Listener listener) {
        return new GemmTuner(this, tuningFile).tune(budget, listener);
    }

    /** The throughput the tuning data recorded for this device, 0 when it holds none for it (narrow types: F32's). */
    @Override
    public double expectedGflops(DType dtype) {
        DType key = dtype == DType.F64 ? DType.F64 : DType.F32;
        return tuning.lookup("gemm", key.name(), identity())
                .filter(m -> m.level() == TuningDatabase.Level.DEVICE || m.level() == TuningDatabase.Level.DEVICE_AND_DRIVER)
                .map(m -> m.entry().provenance() == null ? 0.0 : m.entry().provenance().gflops())
                .orElse(0.0);
    }

    /** The GEMM program whose A, B and C hold {@code dtype} (F32 or F64; what the tuner tunes). */
    Gemm gemmFor(DType dtype) {
        return gemmFor(GemmVariant.of(dtype));
    }

    /**
     * The GEMM program for {@code variant}, built on first use with the parameters the tuning
     * database gives for its tuning type (F32's for the narrow pairs, see {@link GemmVariant#tuningType}).
     */
    Gemm gemmFor(GemmVariant variant) {
        lock.lock();
        try {
            Gemm g = gemms.get(variant);
            if (g == null) {
                var match = tuning.lookup("gemm", variant.tuningType().name(), identity());
                GemmParameters params = match.map(m -> GemmParameters.fromDefines(m.entry().parameters())).orElse(GemmParameters.KERNEL_DEFAULTS);
                String origin = match.map(m -> m.source() + " " + m.level().name().toLowerCase().replace('_', ' ')).orElse("kernel defaults");
                TuningLookupEvent e = new TuningLookupEvent();
                if (e.shouldCommit()) {
                    e.device = id;
                    e.kernel = "gemm";
                    e.dtype = variant.label();
                    e.level = origin;
                    e.parameters = params.buildOptions();
                    e.commit();
                }
                g = new Gemm(buildGemm(variant, params), params, origin);
                gemms.put(variant, g);
            }
            return g;
        } finally {
            lock.unlock();
        }
    }

    /** Builds gemm.cl for {@code variant} with {@code params} (the tuner builds candidates this way). */
    OpenClProgram buildGemm(GemmVariant variant, GemmParameters params) {
        String options = "-cl-std=CL1.2 " + variant.buildOptions() + " " + params.buildOptions();
        return OpenClProgram.build(this, KernelSources.program("gemm.cl"), options, programCache);
    }

    /** Reused buffer {@code slot} (0: packed A, 1: packed B, 2: grouped table, 3: grouped scalars) of at least {@code bytes}; call under the lock. */
    long packingBuffer(int slot, long bytes) {
        if (packingBytes[slot] < bytes) {
            if (packing[slot] != 0) {
                clReleaseMemObject(packing[slot]);
                packing[slot] = 0;
                packingBytes[slot] = 0;
            }
            packing[slot] = createBuffer(bytes);
            packingBytes[slot] = bytes;
        }
        return packing[slot];
    }

    /** Bytes one packing buffer may take: the device's largest allocation, at most PACKING_LIMIT unless one item needs more. */
    long packingLimit() { return Math.min(PACKING_LIMIT, maxAllocation); }

    OpenClQueue commandQueue() { return queue; }

    ReentrantLock lock() { return lock; }

    void close() {
        lock.lock();
        try {
            closed = true;
            gemms.values().forEach(g -> g.program().close());
            gemms.clear();
            reductions.values().forEach(OpenClProgram::close);
            reductions.clear();
            for (int s = 0; s < packing.length; s++) {
                if (packing[s] != 0) {
                    clReleaseMemObject(packing[s]);
                    packing[s] = 0;
                }
            }
            queue.release();
        } finally {
            lock.unlock();
        }
    }

    static String stringInfo(long device, int param) {
        try (Arena arena = NativeMemory.confined()) {
            MemorySegment size = arena.allocate(ValueLayout.JAVA_LONG);
            nclGetDeviceInfo(device, param, 0, 0, size.address());
            long n = size.get(ValueLayout.JAVA_LONG, 0);
            MemorySegment text = arena.allocate(Math.max(1, n));
            nclGetDeviceInfo(device, param, n, text.address(), 0);
            return text.getString(0).strip();
        }
    }

    static long longInfo(long device, int param) {
        try (Arena arena = NativeMemory.confined()) {
            MemorySegment value = arena.allocate(ValueLayout.JAVA_LONG);
            MemorySegment size = arena.allocate(ValueLayout.JAVA_LONG);
            if (nclGetDeviceInfo(device, param, 8, value.address(), size.address()) != CL_SUCCESS) {
                return 0;
            }
            long n = size.get(ValueLayout.JAVA_LONG, 0);
            return n == 4 ? Integer.toUnsignedLong(value.get(ValueLayout.JAVA_INT, 0)) : value.get(ValueLayout.JAVA_LONG, 0);
        }
    }
}
