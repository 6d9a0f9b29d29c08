package dev.kernelbridge.cpu;

import dev.kernelbridge.Config;
import dev.kernelbridge.spi.Backend;
import dev.kernelbridge.spi.BackendDevice;
import java.util.List;

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
        this.device = new CpuDevice(workers, useVector(config));
    }

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
