package dev.kernelbridge.opencl;

import dev.kernelbridge.Device;
import dev.kernelbridge.spi.BackendProvider;
import dev.kernelbridge.tck.ConformanceKit;
import java.util.List;

/**
 * The OpenCL backend against the whole kit, on whatever OpenCL devices are here (two PoCL devices
 * in CI, where ci/test installs PoCL). Collective cases use every OpenCL device as a rank, so the
 * reductions run on the devices. Without an OpenCL device the kit reports every case as skipped.
 */
class OpenClConformanceTest extends ConformanceKit {
    @Override
    protected BackendProvider provider() { return new OpenClBackendProvider(); }

    @Override
    public List<String> rankDevices() {
        return bridge().devices().stream().filter(d -> d.backend().equals("opencl")).map(Device::id).toList();
    }
}
