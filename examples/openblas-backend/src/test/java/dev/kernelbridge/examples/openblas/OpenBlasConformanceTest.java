package dev.kernelbridge.examples.openblas;

import dev.kernelbridge.spi.BackendProvider;
import dev.kernelbridge.tck.ConformanceKit;

/** The whole KernelBridge conformance kit against this backend: the one test file a vendor writes. */
class OpenBlasConformanceTest extends ConformanceKit {
    @Override
    protected BackendProvider provider() { return new OpenBlasBackendProvider(); }
}
