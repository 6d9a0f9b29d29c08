package dev.kernelbridge.cpu;

import dev.kernelbridge.Config;
import dev.kernelbridge.cpu.routines.CpuGemmRoutine;
import dev.kernelbridge.cpu.routines.CpuRoutineProvider;
import dev.kernelbridge.spi.Availability;
import dev.kernelbridge.spi.Backend;
import dev.kernelbridge.spi.BackendDevice;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;

/** One device, the whole CPU, with a team of GEMM threads. */
final class CpuBackend implements Backend {
    private final CpuWorkers workers;
    private final CpuDevice device;

    CpuBackend(Config config) {
        int threads = config.getInt(Config.CPU_THREADS);
        if (threads < 0) {
            throw new IllegalArgumentException(Config.CPU_THREADS.property() + " must be >= 0, got " + threads);
        }
        this.workers = new CpuWorkers(threads == 0 ? Runtime.getRuntime().availableProcessors() : threads);
        String mode = config.get(RoutineChoice.SETTING);
        this.device = new CpuDevice(workers, useVector(config), nativeRoutines(config, workers.threads(), mode), mode, choicesFile(config));
    }

    /**
     * The native routines whose library is here ({@link CpuRoutineProvider}s on the class path).
     * One that is named by kernelbridge.cpu.gemm but unavailable is an error naming the cause; the
     * others are skipped quietly (DEBUG), since the Vector API kernels run every call anyway.
     */
    private static List<CpuGemmRoutine> nativeRoutines(Config config, int threads, String mode) {
        List<CpuGemmRoutine> routines = new ArrayList<>();
        for (CpuRoutineProvider p : ServiceLoader.load(CpuRoutineProvider.class, CpuBackend.class.getClassLoader())) {
            Availability a;
            try {
                a = p.probe(config);
            } catch (RuntimeException | LinkageError e) {
                a = Availability.unavailable("probe threw " + e);
            }
            if (!a.available()) {
                if (p.name().equalsIgnoreCase(mode.strip())) {
                    throw new IllegalStateException(RoutineChoice.SETTING.property() + "=" + mode + " but that routine is not available: "
                            + a.cause() + (a.fix().isEmpty() ? "" : "; fix: " + a.fix()));
                }
                LOG.log(System.Logger.Level.DEBUG, "CPU routine {0} not available: {1}", p.name(), a.cause());
                continue;
            }
            CpuGemmRoutine r = p.open(config, threads);
            LOG.log(System.Logger.Level.DEBUG, "CPU routine {0}: {1}", r.name(), r.description());
            routines.add(r);
        }
        return routines;
    }

    /** Where {@code kernelbridge tune} stores cpu:0's routine choices, beside the OpenCL and CUDA tuning files. */
    static java.nio.file.Path choicesFile(Config config) {
        return config.cacheDirectory().resolve("tuning").resolve("cpu-routines.tsv");
    }

    private static final System.Logger LOG = System.getLogger("dev.kernelbridge.cpu");

    private static boolean useVector(Config config) {
        String mode = config.get(Config.CPU_VECTOR);
        return switch (mode) {
            case "scalar" -> false;
            case "auto" -> {
                var cause = VectorGate.unavailableCause();
                cause.ifPresent(c -> System.getLogger("dev.kernelbridge").log(System.Logger.Level.WARNING,
                        "CPU backend runs scalar kernels, many times slower: " + c));
                yield cause.isEmpty();
            }
            default -> throw new IllegalArgumentException(Config.CPU_VECTOR.property() + " must be auto or scalar, got '" + mode + "'");
        };
    }

    @Override
    public List<BackendDevice> devices() { return List.of(device); }

    @Override
    public void close() { workers.close(); }
}
