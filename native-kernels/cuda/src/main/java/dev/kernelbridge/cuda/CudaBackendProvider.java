package dev.kernelbridge.cuda;

import dev.kernelbridge.Config;
import dev.kernelbridge.spi.Availability;
import dev.kernelbridge.spi.Backend;
import dev.kernelbridge.spi.BackendProvider;
import dev.kernelbridge.spi.NativeMemory;
import dev.kernelbridge.tuning.TuningDatabase;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The CUDA backend's entry: finds the NVIDIA driver (libcuda.so.1, or {@code kernelbridge.cuda.library})
 * and its devices, and opens each with its primary context. Without a driver or a device the backend
 * is unavailable with the cause ("libcuda.so.1 not found", "CUDA_ERROR_NO_DEVICE").
 */
public final class CudaBackendProvider implements BackendProvider {
    public static final Config.Knob LIBRARY = new Config.Knob("cuda.library", "",
            "Path or name of the CUDA driver library; empty means libcuda.so.1 from the system.");
    static final String INSTALL_HINT = "on a machine with an NVIDIA GPU, install the NVIDIA driver"
            + " (it provides libcuda.so.1; the CUDA toolkit alone does not), e.g. `sudo apt-get install nvidia-driver`";

    @Override
    public String name() { return "cuda"; }

    @Override
    public java.util.List<Config.Knob> knobs() { return java.util.List.of(LIBRARY, LibrarySearch.PATH, GemmPaths.SETTING); }

    @Override
    public int priority() { return 30; }

    @Override
    public Availability probe() {
        Config config = Config.fromEnvironment();
        String library = library(config);
        Optional<CudaDriver> driver;
        try {
            driver = CudaDriver.load(library);
        } catch (Throwable e) { // a library without the entry points we bind
            return Availability.unavailable(library + " cannot be bound: " + e.getMessage());
        }
        if (driver.isEmpty()) {
            return Availability.unavailable(library + " not found: no NVIDIA driver on this machine", INSTALL_HINT);
        }
        CudaDriver cu = driver.get();
        int init = cu.call("cuInit", 0);
        if (init != 0) {
            return Availability.unavailable("cuInit failed with " + cu.errorName(init) + " (" + init + ")");
        }
        try (Arena a = NativeMemory.confined()) {
            MemorySegment count = a.allocate(ValueLayout.JAVA_INT);
            int r = cu.call("cuDeviceGetCount", count);
            if (r != 0) {
                return Availability.unavailable("cuDeviceGetCount failed with " + cu.errorName(r));
            }
            int n = count.get(ValueLayout.JAVA_INT, 0);
            if (n == 0) {
                return Availability.unavailable("CUDA_ERROR_NO_DEVICE: the driver reports no CUDA device");
            }
            return Availability.ok(n + " CUDA device(s), driver " + version(cu) + ", "
                    + Cublas.load().map(c -> "cuBLAS " + c.location()).orElse("no cuBLAS") + ", "
                    + Nvrtc.load().map(c -> "NVRTC " + c.location()).orElse("no NVRTC (shipped kernels only)")
                    + "; routine per shape class: " + config.get(GemmPaths.SETTING));
        }
    }

    @Override
    public Backend open(Config config) {
        String library = library(config);
        CudaDriver cu = CudaDriver.load(library).orElseThrow(() -> new IllegalStateException(library + " not found; " + INSTALL_HINT));
        int init = cu.call("cuInit", 0);
        if (init != 0) {
            throw new IllegalStateException("cuInit failed with " + cu.errorName(init));
        }
        List<CudaDevice> devices = new ArrayList<>();
        // The user's tuned parameters (same format as OpenCL's); the shipped ones are those the PTX was built with.
        TuningDatabase tuning = TuningDatabase.load(config.cacheDirectory().resolve("tuning").resolve("cuda.json"), null);
        String driver = version(cu);
        GemmPaths.Mode gemmMode = GemmPaths.mode(config);
        try (Arena a = NativeMemory.confined()) {
            MemorySegment count = a.allocate(ValueLayout.JAVA_INT);
            int r = cu.call("cuDeviceGetCount", count);
            if (r != 0) {
                throw new IllegalStateException("cuDeviceGetCount failed with " + cu.errorName(r));
            }
            for (int i = 0; i < count.get(ValueLayout.JAVA_INT, 0); i++) {
                devices.add(new CudaDevice(cu, name() + ":" + i, i, tuning, driver, gemmMode));
            }
        } catch (RuntimeException e) {
            devices.forEach(CudaDevice::close);
            throw e;
        }
        return new CudaBackend(devices, config.getDuration(Config.COLLECTIVE_TIMEOUT));
    }

    private static String version(CudaDriver cu) {
        try (Arena a = NativeMemory.confined()) {
            MemorySegment v = a.allocate(ValueLayout.JAVA_INT);
            if (cu.call("cuDriverGetVersion", v) != 0) {
                return "?";
            }
            int n = v.get(ValueLayout.JAVA_INT, 0);
            return n / 1000 + "." + (n % 1000) / 10;
        }
    }

    private static String library(Config config) {
        String name = config.get(LIBRARY);
        return name.isEmpty() ? CudaDriver.DEFAULT_LIBRARY : name;
    }
}
