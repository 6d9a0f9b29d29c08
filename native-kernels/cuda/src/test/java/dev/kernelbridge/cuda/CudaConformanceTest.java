package dev.kernelbridge.cuda;

import dev.kernelbridge.spi.BackendProvider;
import dev.kernelbridge.tck.ConformanceKit;
import org.junit.jupiter.api.Tag;

/**
 * The CUDA backend against the whole conformance kit, on a real GPU. Tagged "gpu": where no CUDA
 * device is, every case is reported as skipped (never passed); {@code ci/test --gpu} makes a missing
 * GPU a failure instead.
 */
@Tag("gpu")
class CudaConformanceTest extends ConformanceKit {
    /** ci/test --gpu: a missing CUDA device fails the kit instead of skipping it. */
    @Override
    protected boolean requireAvailable() { return Boolean.getBoolean("kernelbridge.test.requireGpu"); }

    @Override
    protected BackendProvider provider() { return new CudaBackendProvider(); }
}
