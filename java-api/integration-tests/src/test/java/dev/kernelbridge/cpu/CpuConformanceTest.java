package dev.kernelbridge.cpu;

import dev.kernelbridge.spi.BackendProvider;
import dev.kernelbridge.tck.ConformanceKit;

/** The built-in CPU backend (Vector API kernels) against the whole kit. */
class CpuConformanceTest extends ConformanceKit {
    @Override
    protected BackendProvider provider() { return new CpuBackendProvider(); }
}
