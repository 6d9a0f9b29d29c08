/**
 * KernelBridge: GEMM and collectives on CUDA, OpenCL and the CPU through one API.
 * Exports the API and the backend SPI only; the CPU backend and the CLI are internal.
 * The Vector API is optional: without it the CPU backend runs its scalar kernels.
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
    provides dev.kernelbridge.spi.BackendProvider with dev.kernelbridge.internal.cpu.CpuBackendProvider;
}
