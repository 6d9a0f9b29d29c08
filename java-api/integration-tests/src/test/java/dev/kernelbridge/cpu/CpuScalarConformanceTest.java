package dev.kernelbridge.cpu;

import dev.kernelbridge.Config;
import dev.kernelbridge.spi.BackendProvider;
import dev.kernelbridge.tck.ConformanceKit;

/** The CPU backend's scalar path, as a JVM without the Vector API runs it, against the same kit. */
class CpuScalarConformanceTest extends ConformanceKit {
    @Override
    protected BackendProvider provider() { return new CpuBackendProvider(); }

    @Override
    public Config config() { return super.config().with(Config.CPU_VECTOR, "scalar"); }

    @Override
    protected String reportName() { return "cpu-scalar"; }
}
