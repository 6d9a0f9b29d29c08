package dev.kernelbridge.cpu;

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

    CpuDevice(CpuWorkers workers, boolean vector) {
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
        long total = totalMemory();
        this.info = new DeviceInfo(model + " (" + workers.threads() + " threads, " + kernels + ")", vendor,
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
        engine(call).run(call, a, b, c);
    }

    /**
     * Calls that share an engine (by type and zero points) form one flat tile space on the worker
     * threads ({@link BlockedGemm#runGrouped}); the scalar engine runs them one by one.
     */
    @Override
    public void gemmGrouped(List<GemmCall> calls) {
        Map<GemmEngine, List<GemmCall>> byEngine = new LinkedHashMap<>();
        for (GemmCall call : calls) {
            byEngine.computeIfAbsent(engine(call), e -> new ArrayList<>()).add(call);
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
