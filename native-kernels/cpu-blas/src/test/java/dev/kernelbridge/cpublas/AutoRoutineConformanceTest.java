package dev.kernelbridge.cpublas;

import dev.kernelbridge.spi.BackendProvider;
import dev.kernelbridge.tck.ConformanceKit;

/** cpu:0 choosing per shape class between its Vector API kernels and OpenBLAS (kernelbridge.cpu.gemm=auto), against the whole kit. */
class AutoRoutineConformanceTest extends ConformanceKit {
    @Override
    protected BackendProvider provider() { return new RoutinePresent(new OpenBlasProvider()); }

    @Override
    protected String reportName() { return "cpu-auto"; }

    @Override
    protected boolean requireAvailable() { return RoutinePresent.required(); }
}
