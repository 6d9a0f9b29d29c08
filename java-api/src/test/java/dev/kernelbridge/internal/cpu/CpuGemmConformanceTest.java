package dev.kernelbridge.internal.cpu;

import dev.kernelbridge.conformance.GemmConformanceKit;
import dev.kernelbridge.spi.BackendProvider;
import java.util.List;

/** The CPU backend's Vector API kernels against the conformance kit. */
class CpuGemmConformanceTest extends GemmConformanceKit {
    @Override
    protected List<BackendProvider> providers() { return List.of(new CpuBackendProvider()); }

    @Override
    protected String deviceId() { return "cpu:0"; }
}
