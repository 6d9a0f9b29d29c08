/**
 * KernelBridge: GEMM and collectives on CUDA, OpenCL and the CPU through one API.
 * Exports the API, the backend SPI and the JFR events; dispatch, collectives and faults are
 * internal. No backend lives here: each is a module of its own (kernelbridge-cpu is the one always
 * there), found through {@link dev.kernelbridge.spi.BackendProvider}.
 * The Vector API is optional: without it the bulk conversions and folds run scalar.
 */
module dev.kernelbridge.api {
    requires static jdk.incubator.vector;
    requires jdk.management;
    requires java.logging;
    requires jdk.jfr;

    exports dev.kernelbridge;
    exports dev.kernelbridge.spi;
    exports dev.kernelbridge.events;

    uses dev.kernelbridge.spi.BackendProvider;
    uses dev.kernelbridge.spi.TransportProvider;
}
