package dev.kernelbridge.opencl;

import dev.kernelbridge.spi.BackendProvider;
import dev.kernelbridge.tck.ConformanceKit;

/**
 * The OpenCL backend against the whole kit, on whatever OpenCL device is here (PoCL in CI, where
 * ci/test installs it). Without an OpenCL device the kit reports every case as skipped.
 */
class OpenClConformanceTest extends ConformanceKit {
    @Override
    protected BackendProvider provider() { return new OpenClBackendProvider(); }
}
