package dev.kernelbridge.cpu;

import dev.kernelbridge.cpu.routines.CpuGemmRoutine;
import dev.kernelbridge.DType;
import dev.kernelbridge.DeviceKind;
import dev.kernelbridge.spi.BackendBuffer;
import dev.kernelbridge.spi.BackendDevice;
import dev.kernelbridge.spi.DeviceInfo;
import dev.kernelbridge.spi.GemmCall;
import dev.kernelbridge.spi.HostBuffer;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/** The host CPU as a device: buffers are native memory the host reads directly. Thread-safe. */
final class CpuDevice implements BackendDevice {
    private final DeviceInfo info;
    /** By input type: F32, BF16 and F16 share the F32 engine; I8 runs on the F32 kernel with exact k slices. */
    private final GemmEngine f32, f64, i8, i8Shifted;
    /** Which routine runs each shape class: these kernels, or a native library's. */
    private final RoutineChoice choice;

    /** {@code nativeRoutines}: the libraries found (may be empty); {@code mode}: kernelbridge.cpu.gemm. */
    CpuDevice(CpuWorkers workers, boolean vector, java.util.List<CpuGemmRoutine> nativeRoutines, String mode) {
        if (vector) {
            int bits = VectorGate.preferredBits();
            PackedVectorGemmF32 s = new PackedVectorGemmF32();
            PackedVectorGemmF64 d = new PackedVectorGemmF64();
            SmallVectorGemmF32 smallS = new SmallVectorGemmF32();
            this.f32 = new BlockedGemm(s, smallS, Blocking.of("f32", bits, s.mr(), s.nr()), workers);
            this.f64 = new BlockedGemm(d, new SmallVectorGemmF64(), Blocking.of("f64", bits, d.mr(), d.nr()), workers);
            Blocking i8Blocking = Blocking.of("i8", bits, s.mr(), s.nr());
            this.i8 = new BlockedGemm(s, smallS, Blocking.exactI8(i8Blocking, false), workers);
            this.i8Shifted = new BlockedGemm(s, smallS, Blocking.exactI8(i8Blocking, true), workers);
        } else {
            this.f32 = this.f64 = this.i8 = this.i8Shifted = new ScalarGemm();
        }
        String model = cpuInfo("model name").orElse(System.getProperty("os.arch"));
        String vendor = cpuInfo("vendor_id").map(CpuDevice::vendorName).orElse("unknown");
        String kernels = vector ? VectorGate.preferredBits() + "-bit vectors" : "scalar";
        java.util.List<CpuGemmRoutine> routines = new ArrayList<>();
        routines.add(new OwnKernels(vector ? "Vector API kernels, " + kernels : "scalar loops (the Vector API is not enabled)"));
        routines.addAll(nativeRoutines);
        this.choice = new RoutineChoice(mode, routines);
        String also = nativeRoutines.isEmpty() ? "" : nativeRoutines.stream().map(r -> r.name()).reduce("", (x, y) -> x + " + " + y);
        long total = totalMemory();
        this.info = new DeviceInfo(model + " (" + workers.threads() + " threads, " + kernels + also + ")", vendor,
                DeviceKind.CPU, total, HostMemoryLimit.largestAllocation(total), Set.of(DType.values()));
    }

    @Override
    public DeviceInfo info() { return info; }

    @Override
    public BackendBuffer allocate(DType dtype, long elements) {
        return HostBuffer.allocate("cpu:0", Math.multiplyExact(elements, (long) dtype.byteSize()));
    }

    @Override
    public boolean sharesHostMemory() { return true; }

    /** Pure Java on the caller's thread and this device's worker team: it cannot hang or fail half-way. */
    @Override
    public boolean runsOnCallerThread() { return true; }

    @Override
    public BackendBuffer wrapHost(MemorySegment hostMemory) {
        return HostBuffer.wrap(hostMemory);
    }

    @Override
    public void gemm(GemmCall call) {
        MemorySegment a = HostBuffer.segmentOf(call.a());
        MemorySegment b = HostBuffer.segmentOf(call.b());
        MemorySegment c = HostBuffer.segmentOf(call.c());
        choice.routineFor(call, this::benchFor).run(call, a, b, c);
    }

    /** Our own kernels as a routine: they take every call. */
    private final class OwnKernels implements CpuGemmRoutine {
        private final String description;

        OwnKernels(String description) {
            this.description = description;
        }

        @Override
        public String name() { return RoutineChoice.VECTOR; }

        @Override
        public String description() { return description; }

        @Override
        public String refusal(GemmCall call) { return null; }

        @Override
        public void run(GemmCall call, MemorySegment a, MemorySegment b, MemorySegment c) {
            engine(call).run(call, a, b, c);
        }
    }

    /** Largest m, n and k a routine is timed at: enough to rank routines, small enough to decide in milliseconds. */
    private static final long CALIBRATION_CAP = 512;

    /**
     * Zeroed scratch buffers shaped like {@code call}'s class (batch 1, sizes capped, tight leading
     * dimensions), for {@link RoutineChoice} to time routines on; null when they do not fit.
     */
    private RoutineChoice.Bench benchFor(GemmCall call) {
        long m = Math.min(call.m(), CALIBRATION_CAP), n = Math.min(call.n(), CALIBRATION_CAP), k = Math.min(call.k(), CALIBRATION_CAP);
        boolean ta = call.transA() != dev.kernelbridge.Transpose.NO_TRANS, tb = call.transB() != dev.kernelbridge.Transpose.NO_TRANS;
        long lda = Math.max(1, ta ? k : m), ldb = Math.max(1, tb ? n : k);
        long in = call.inputType().byteSize(), out = call.dtype().byteSize();
        HostBuffer[] buffers = new HostBuffer[3];
        try {
            buffers[0] = HostBuffer.allocate("cpu:0", Math.max(1, lda * (ta ? m : k) * in));
            buffers[1] = HostBuffer.allocate("cpu:0", Math.max(1, ldb * (tb ? k : n) * in));
            buffers[2] = HostBuffer.allocate("cpu:0", Math.max(1, m * n * out));
        } catch (dev.kernelbridge.DeviceOutOfMemoryException e) {
            for (HostBuffer h : buffers) {
                if (h != null) {
                    h.release();
                }
            }
            return null;
        }
        GemmCall scratch = new GemmCall(call.dtype(), call.transA(), call.transB(), m, n, k, 1, buffers[0], 0, lda, 0,
                buffers[1], 0, ldb, 0, 0, buffers[2], 0, Math.max(1, m), 0, 1, call.inputType(), call.zeroPointA(), call.zeroPointB());
        MemorySegment a = HostBuffer.segmentOf(buffers[0]), b = HostBuffer.segmentOf(buffers[1]), c = HostBuffer.segmentOf(buffers[2]);
        return new RoutineChoice.Bench() {
            @Override
            public boolean takes(CpuGemmRoutine routine) {
                return routine.refusal(scratch) == null;
            }

            @Override
            public long once(CpuGemmRoutine routine) {
                long t0 = System.nanoTime();
                routine.run(scratch, a, b, c);
                return System.nanoTime() - t0;
            }

            @Override
            public void close() {
                for (HostBuffer h : buffers) {
                    h.release();
                }
            }
        };
    }

    /**
     * Calls that share an engine (by type and zero points) form one flat tile space on the worker
     * threads ({@link BlockedGemm#runGrouped}); the scalar engine runs them one by one.
     */
    @Override
    public void gemmGrouped(List<GemmCall> calls) {
        Map<GemmEngine, List<GemmCall>> byEngine = new LinkedHashMap<>();
        for (GemmCall call : calls) {
            var routine = choice.routineFor(call, this::benchFor);
            if (routine instanceof OwnKernels) {
                byEngine.computeIfAbsent(engine(call), e -> new ArrayList<>()).add(call);
            } else { // the routine a single call of this class takes: the same bits grouped or not
                routine.run(call, HostBuffer.segmentOf(call.a()), HostBuffer.segmentOf(call.b()), HostBuffer.segmentOf(call.c()));
            }
        }
        byEngine.forEach((engine, group) -> {
            if (engine instanceof BlockedGemm blocked) {
                List<MemorySegment[]> memory = group.stream().map(x -> new MemorySegment[] {
                        HostBuffer.segmentOf(x.a()), HostBuffer.segmentOf(x.b()), HostBuffer.segmentOf(x.c())}).toList();
                blocked.runGrouped(group, memory);
            } else {
                group.forEach(this::gemm);
            }
        });
    }

    private GemmEngine engine(GemmCall call) {
        return switch (call.inputType()) {
            case F64 -> f64;
            case I8 -> call.zeroPointA() == 0 && call.zeroPointB() == 0 ? i8 : i8Shifted;
            default -> f32;
        };
    }

    private static long totalMemory() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            return os.getTotalMemorySize();
        }
        return 0;
    }

    private static Optional<String> cpuInfo(String key) {
        try {
            return Files.readAllLines(Path.of("/proc/cpuinfo")).stream()
                    .filter(l -> l.startsWith(key))
                    .map(l -> l.substring(l.indexOf(':') + 1).trim())
                    .findFirst();
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    private static String vendorName(String id) {
        return switch (id) {
            case "AuthenticAMD" -> "AMD";
            case "GenuineIntel" -> "Intel";
            default -> id;
        };
    }
}
