package dev.kernelbridge.internal.cpu;

import dev.kernelbridge.Config;
import dev.kernelbridge.conformance.GemmConformanceKit;
import dev.kernelbridge.spi.BackendProvider;
import java.util.List;

/** The CPU backend's scalar path (no Vector API) against the same kit. */
class CpuScalarGemmConformanceTest extends GemmConformanceKit {
    @Override
    protected List<BackendProvider> providers() { return List.of(new CpuBackendProvider()); }

    @Override
    protected String deviceId() { return "cpu:0"; }

    @Override
    protected Config config() { return Config.defaults().with(Config.CPU_VECTOR, "scalar"); }
}
