package dev.kernelbridge.examples.openblas;

import dev.kernelbridge.spi.Backend;
import dev.kernelbridge.spi.BackendDevice;
import java.util.List;

/** One device: OpenBLAS on all cores of the host. */
final class OpenBlasBackend implements Backend {
    private final OpenBlasDevice device;

    OpenBlasBackend(OpenBlasLibrary lib) {
        try {
            lib.setNumThreads.invokeExact(Runtime.getRuntime().availableProcessors());
        } catch (Throwable t) {
            throw new IllegalStateException("openblas_set_num_threads failed", t);
        }
        this.device = new OpenBlasDevice(lib);
    }

    @Override
    public List<BackendDevice> devices() { return List.of(device); }

    @Override
    public void close() {
        // OpenBLAS keeps its thread pool for the life of the process; nothing to release.
    }
}
