package dev.kernelbridge.cuda;

import dev.kernelbridge.spi.Backend;
import dev.kernelbridge.spi.BackendDevice;
import java.util.List;

/** Every CUDA device the driver reports, each with its primary context. */
final class CudaBackend implements Backend {
    private final List<CudaDevice> devices;

    CudaBackend(List<CudaDevice> devices) {
        this.devices = List.copyOf(devices);
    }

    @Override
    public List<BackendDevice> devices() {
        return List.copyOf(devices);
    }

    @Override
    public void close() {
        for (CudaDevice d : devices) {
            d.close();
        }
    }
}
