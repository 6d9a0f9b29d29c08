package @PACKAGE@;

import dev.kernelbridge.spi.BackendProvider;
import dev.kernelbridge.tck.ConformanceKit;

/** The KernelBridge conformance kit against this backend. Keep it green. */
class @CLASS@ConformanceTest extends ConformanceKit {
    @Override
    protected BackendProvider provider() { return new @CLASS@BackendProvider(); }
}
