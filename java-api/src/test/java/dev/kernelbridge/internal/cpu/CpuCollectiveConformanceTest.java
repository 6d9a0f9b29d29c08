package dev.kernelbridge.internal.cpu;

import dev.kernelbridge.conformance.CollectiveConformanceKit;
import dev.kernelbridge.spi.BackendProvider;
import java.util.List;

/** In-process collectives with every rank on the CPU device. */
class CpuCollectiveConformanceTest extends CollectiveConformanceKit {
    @Override
    protected List<BackendProvider> providers() { return List.of(new CpuBackendProvider()); }

    @Override
    protected List<String> rankDevices() { return List.of("cpu:0"); }
}
