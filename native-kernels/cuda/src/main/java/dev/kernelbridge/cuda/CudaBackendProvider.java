package dev.kernelbridge.cuda;

import dev.kernelbridge.Config;
import dev.kernelbridge.spi.Availability;
import dev.kernelbridge.spi.Backend;
import dev.kernelbridge.spi.BackendProvider;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Optional;

/**
 * The CUDA backend's entry: finds the NVIDIA driver (libcuda.so.1, or {@code kernelbridge.cuda.library})
 * and its devices. The device layer — buffers, PTX modules, GEMM and reduction launches — is not
 * written yet, so where a driver and devices exist the probe says exactly that instead of opening.
 */
public final class CudaBackendProvider implements BackendProvider {
    public static final Config.Knob LIBRARY = new Config.Knob("cuda.library", "",
            "Path or name of the CUDA driver library; empty means libcuda.so.1 from the system.");
    static final String INSTALL_HINT = "install the NVIDIA driver (it provides libcuda.so.1; the CUDA toolkit alone does not)"
            + " on a machine with an NVIDIA GPU";

    @Override
    public String name() { return "cuda"; }

    @Override
    public int priority() { return 30; }

    @Override
    public Availability probe() {
        String library = library(Config.fromEnvironment());
        Optional<CudaDriver> driver;
        try {
            driver = CudaDriver.load(library);
        } catch (Throwable e) { // a library without the entry points we bind
            return Availability.unavailable(library + " cannot be bound: " + e.getMessage());
        }
        if (driver.isEmpty()) {
            return Availability.unavailable(library + " not found: no NVIDIA driver on this machine; " + INSTALL_HINT);
        }
        CudaDriver cu = driver.get();
        int init = cu.call("cuInit", 0);
        if (init != 0) {
            return Availability.unavailable("cuInit failed with " + cu.errorName(init) + " (" + init + ")");
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment count = a.allocate(ValueLayout.JAVA_INT);
            int r = cu.call("cuDeviceGetCount", count);
            if (r != 0) {
                return Availability.unavailable("cuDeviceGetCount failed with " + cu.errorName(r));
            }
            int n = count.get(ValueLayout.JAVA_INT, 0);
            if (n == 0) {
                return Availability.unavailable("CUDA_ERROR_NO_DEVICE: the driver reports no CUDA device");
            }
            return Availability.unavailable(n + " CUDA device(s) found, but this build runs no CUDA kernels yet"
                    + " (the device layer is unfinished); OpenCL or the CPU serve instead");
        }
    }

    @Override
    public Backend open(Config config) {
        throw new IllegalStateException("the CUDA backend cannot open: " + probe().cause());
    }

    private static String library(Config config) {
        String name = config.get(LIBRARY);
        return name.isEmpty() ? CudaDriver.DEFAULT_LIBRARY : name;
    }
}
