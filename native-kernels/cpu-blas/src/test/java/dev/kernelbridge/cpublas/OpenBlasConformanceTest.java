package dev.kernelbridge.cpublas;

import dev.kernelbridge.Config;
import dev.kernelbridge.spi.BackendProvider;
import dev.kernelbridge.tck.ConformanceKit;

/** cpu:0 with every call it can take forced onto OpenBLAS (kernelbridge.cpu.gemm=openblas), against the whole kit. */
class OpenBlasConformanceTest extends ConformanceKit {
    @Override
    protected BackendProvider provider() { return new RoutinePresent(new OpenBlasProvider()); }

    @Override
    public Config config() {
        return super.config().with(dev.kernelbridge.cpu.routines.CpuRoutineProvider.SETTING, "openblas");
    }

    @Override
    protected String reportName() { return "cpu-openblas"; }

    @Override
    protected boolean requireAvailable() { return RoutinePresent.required(); }
}
