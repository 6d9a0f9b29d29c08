package dev.kernelbridge.cpublas;

import dev.kernelbridge.Config;
import dev.kernelbridge.spi.BackendProvider;
import dev.kernelbridge.tck.ConformanceKit;

/** cpu:0 with every call it can take forced onto oneDNN (kernelbridge.cpu.gemm=onednn), against the whole kit. */
class OneDnnConformanceTest extends ConformanceKit {
    @Override
    protected BackendProvider provider() { return new RoutinePresent(new OneDnnProvider()); }

    @Override
    public Config config() {
        return super.config().with(dev.kernelbridge.cpu.routines.CpuRoutineProvider.SETTING, "onednn");
    }

    @Override
    protected String reportName() { return "cpu-onednn"; }

    @Override
    protected boolean requireAvailable() { return RoutinePresent.required(); }
}
