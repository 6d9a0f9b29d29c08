package dev.kernelbridge.cpu;

import dev.kernelbridge.Config;
import dev.kernelbridge.spi.BackendProvider;
import dev.kernelbridge.tck.ConformanceKit;

/**
 * The built-in CPU backend's own Vector API kernels against the whole kit (kernelbridge.cpu.gemm=vector;
 * native-kernels/cpu-blas runs the kit with OpenBLAS forced and with auto).
 */
class CpuConformanceTest extends ConformanceKit {
    @Override
    protected BackendProvider provider() { return new CpuBackendProvider(); }

    @Override
    public Config config() {
        return super.config().with(dev.kernelbridge.cpu.routines.CpuRoutineProvider.SETTING, "vector");
    }
}
