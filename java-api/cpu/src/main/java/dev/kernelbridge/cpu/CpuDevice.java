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

/**
 * The host CPU as a device: buffers are native memory the host reads directly. Tunable in that
 * {@code tune} chooses its GEMM routine per shape class once, under calm conditions, and stores the
 * choices for this machine. Thread-safe.
 */
final class CpuDevice implements BackendDevice, dev.kernelbridge.spi.TunableDevice {
    private final DeviceInfo info;
    /** By input type: F32, BF16 and F16 share the F32 engine; I8 runs on the F32 kernel with exact k slices. */
    private final GemmEngine f32, f64, i8, i8Shifted;
    /** Which routine runs each shape class: these kernels, or a native library's. */
    private final RoutineChoice choice;

    private final LinuxTelemetry telemetry = LinuxTelemetry.ofThisMachine();

    /** What decides the routines' speeds here (see {@link StoredChoices}). */
    private final String fingerprint;
    private final StoredChoices stored;

    /**
     * {@code nativeRoutines}: the libraries found (may be empty); {@code mode}: kernelbridge.cpu.gemm;
     * {@code choicesFile}: where {@code tune} stores the routine choices.
     */
    CpuDevice(CpuWorkers workers, boolean vector, java.util.List<CpuGemmRoutine> nativeRoutines, String mode, Path choicesFile) {
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
        StringBuilder print = new StringBuilder(model + "; " + workers.threads() + " threads; JDK " + Runtime.version().feature());
        routines.forEach(r -> print.append("; ").append(r.name()).append(": ").append(r.description()));
        this.fingerprint = print.toString();
        this.stored = StoredChoices.load(choicesFile, StoredChoices.machineId(fingerprint));
        this.choice = new RoutineChoice(mode, routines, stored);
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

    /**
     * The routines found (each library's version and ISA), and the choices stored for this machine:
     * what {@code devices --json} and {@code doctor} show.
     */
    @Override
    public Map<String, String> details() {
        Map<String, String> d = new LinkedHashMap<>();
        for (CpuGemmRoutine r : choice.routines()) {
            d.put("routine." + r.name(), r.description());
        }
        d.put("routine.choices", stored.rows().isEmpty() ? "chosen by timing in each run (run `kernelbridge tune` to store them)"
                : stored.rows().size() + " shape classes stored in " + stored.file());
        d.put("machine", stored.machine());
        return d;
    }

    /** The memory controllers' error counts, thermal throttling and temperature Linux shows (see {@link LinuxTelemetry}). */
    @Override
    public dev.kernelbridge.DeviceTelemetry telemetry() {
        return telemetry.read();
    }

    /** The square sizes {@code tune} decides, one per shape class from 16 to 1024. */
    private static final long[] TUNED_SIZES = {16, 32, 64, 128, 256, 512, 1024};
    /** The type pairs a native library may take; the others run on the Vector API kernels, nothing to choose. */
    private static final DType[][] TUNED_TYPES = {{DType.F32, DType.F32}, {DType.F64, DType.F64}, {DType.BF16, DType.F32},
            {DType.BF16, DType.BF16}, {DType.F16, DType.F32}, {DType.F16, DType.F16}, {DType.I8, DType.I32}};
    /** Rounds {@code tune} times each class in: more than a plain run's first call can afford. */
    private static final int TUNE_ROUNDS = 15;
    /** Untimed rounds before each class: our kernels are compiled by then, as they are in a long run. */
    private static final long TUNE_WARM_NANOS = 300_000_000L;

    /**
     * Chooses the routine of each square shape class (no transposes) from 16 to 1024 for every type
     * pair some native routine takes, checking each against the Vector API kernels and timing it in
     * {@value #TUNE_ROUNDS} quiet rounds, and stores the choices for this machine; the next run takes
     * them instead of timing. Classes a run meets that {@code tune} did not decide are still timed then.
     */
    @Override
    public dev.kernelbridge.TuningReport tune(java.time.Duration budget, dev.kernelbridge.TuningReport.Listener listener) {
        List<dev.kernelbridge.TuningReport.Kernel> kernels = new ArrayList<>();
        List<StoredChoices.Row> rows = new ArrayList<>();
        long end = System.nanoTime() + budget.toNanos();
        List<GemmCall> classes = new ArrayList<>();
        for (DType[] types : TUNED_TYPES) {
            for (long n : TUNED_SIZES) {
                GemmCall call = squareCall(types[0], types[1], n);
                if (choice.routines().stream().skip(1).anyMatch(r -> r.refusal(call) == null)) {
                    classes.add(call);
                }
            }
        }
        for (int i = 0; i < classes.size() && System.nanoTime() < end; i++) {
            GemmCall call = classes.get(i);
            listener.progress((double) i / classes.size(), "routine for " + RoutineChoice.label(call));
            CpuGemmRoutine before = choice.current(call.shapeClass()).orElse(null);
            RoutineChoice.Decision d = choice.measure(call, this::benchFor, TUNE_ROUNDS, TUNE_WARM_NANOS);
            long winner = d.nanos().getOrDefault(d.routine().name(), 0L);
            long previous = before == null ? 0 : d.nanos().getOrDefault(before.name(), 0L);
            String shape = call.inputType().label() + "->" + call.dtype().label() + " n=" + call.n();
            kernels.add(new dev.kernelbridge.TuningReport.Kernel("gemm routine", call.inputType(), d.routine().name() + " (" + d.why() + ")",
                    gflops(d.work(), winner), gflops(d.work(), previous), d.nanos().size() + d.wrong().size(), d.wrong().size(), shape));
            rows.add(new StoredChoices.Row(stored.machine(), call.shapeClass(), d.routine().name(), shape, d.why()));
        }
        listener.progress(1, "done");
        if (!rows.isEmpty()) {
            StoredChoices.write(stored.file(), stored.machine(), rows);
        }
        return new dev.kernelbridge.TuningReport("cpu:0", stored.file().toString(), kernels);
    }

    private static double gflops(double work, long nanos) {
        return nanos <= 0 ? 0 : 2 * work / nanos;
    }

    /** A tight column-major m = n = k call of these types, with no memory behind it: for its class and the routines' refusals. */
    private static GemmCall squareCall(DType in, DType out, long n) {
        HostBuffer none = HostBuffer.wrap(MemorySegment.NULL);
        return new GemmCall(out, dev.kernelbridge.Transpose.NO_TRANS, dev.kernelbridge.Transpose.NO_TRANS, n, n, n, 1, none, 0, n, 0,
                none, 0, n, 0, 0, none, 0, n, 0, 1, in, 0, 0);
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
        fillSmallIntegers(HostBuffer.segmentOf(buffers[0]), call.inputType(), 1);
        fillSmallIntegers(HostBuffer.segmentOf(buffers[1]), call.inputType(), 2);
        GemmCall scratch = new GemmCall(call.dtype(), call.transA(), call.transB(), m, n, k, 1, buffers[0], 0, lda, 0,
                buffers[1], 0, ldb, 0, 0, buffers[2], 0, Math.max(1, m), 0, 1, call.inputType(), call.zeroPointA(), call.zeroPointB());
        MemorySegment a = HostBuffer.segmentOf(buffers[0]), b = HostBuffer.segmentOf(buffers[1]), c = HostBuffer.segmentOf(buffers[2]);
        return new RoutineChoice.Bench() {
            @Override
            public boolean takes(CpuGemmRoutine routine) {
                return routine.refusal(scratch) == null;
            }

            @Override
            public boolean agrees(CpuGemmRoutine routine, CpuGemmRoutine reference) {
                reference.run(scratch, a, b, c);
                MemorySegment expected = java.lang.foreign.Arena.ofAuto().allocate(c.byteSize());
                expected.copyFrom(c);
                c.fill((byte) 0x7f); // what the routine does not write cannot match by accident
                routine.run(scratch, a, b, c);
                return c.mismatch(expected) < 0;
            }

            @Override
            public double work() {
                return (double) m * n * k;
            }

            @Override
            public long run(CpuGemmRoutine routine, int calls) {
                long t0 = System.nanoTime();
                for (int i = 0; i < calls; i++) {
                    routine.run(scratch, a, b, c);
                }
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

    /** Integers in [-4, 4] (any byte for I8): exact in every type and in every sum of a scratch call, so routines agree bit for bit. */
    private static void fillSmallIntegers(MemorySegment s, DType type, long seed) {
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(seed);
        long count = s.byteSize() / type.byteSize();
        for (long i = 0; i < count; i++) {
            int v = rnd.nextInt(9) - 4;
            switch (type) {
                case F32 -> s.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, i, v);
                case F64 -> s.setAtIndex(java.lang.foreign.ValueLayout.JAVA_DOUBLE, i, v);
                case BF16 -> s.setAtIndex(java.lang.foreign.ValueLayout.JAVA_SHORT, i, dev.kernelbridge.NarrowFloat.toBf16(v));
                case F16 -> s.setAtIndex(java.lang.foreign.ValueLayout.JAVA_SHORT, i, dev.kernelbridge.NarrowFloat.toF16(v));
                case I8 -> s.set(java.lang.foreign.ValueLayout.JAVA_BYTE, i, (byte) rnd.nextInt(256));
                case I32 -> s.setAtIndex(java.lang.foreign.ValueLayout.JAVA_INT, i, v);
            }
        }
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
