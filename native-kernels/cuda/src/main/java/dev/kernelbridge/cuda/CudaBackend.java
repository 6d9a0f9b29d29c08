package dev.kernelbridge.cuda;

import dev.kernelbridge.spi.Backend;
import dev.kernelbridge.spi.BackendDevice;
import dev.kernelbridge.spi.DeviceCollectives;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** Every CUDA device the driver reports, each with its primary context. */
final class CudaBackend implements Backend {
    private final List<CudaDevice> devices;
    private final java.time.Duration collectiveTimeout;

    CudaBackend(List<CudaDevice> devices, java.time.Duration collectiveTimeout) {
        this.devices = List.copyOf(devices);
        this.collectiveTimeout = collectiveTimeout;
    }

    @Override
    public List<BackendDevice> devices() {
        return List.copyOf(devices);
    }

    /** NCCL over these GPUs, when libnccl is installed and every rank is a distinct GPU of this backend. */
    @Override
    public Optional<DeviceCollectives> collectives(List<BackendDevice> ranks) {
        List<CudaDevice> gpus = new ArrayList<>();
        for (BackendDevice d : ranks) {
            if (!(d instanceof CudaDevice g) || !devices.contains(g) || gpus.contains(g)) {
                return Optional.empty();
            }
            gpus.add(g);
        }
        return Nccl.load().map(nccl -> new NcclCollectives(nccl, gpus, collectiveTimeout));
    }

    @Override
    public void close() {
        for (CudaDevice d : devices) {
            d.close();
        }
    }
}
