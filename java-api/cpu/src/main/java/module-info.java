/**
 * The CPU backend, always present: packed Vector API GEMM kernels (scalar loops where
 * {@code jdk.incubator.vector} is not enabled), registered through the same SPI as any vendor's, and
 * native GEMM routines (OpenBLAS, …) where a {@code CpuRoutineProvider} finds its library.
 */
module dev.kernelbridge.cpu {
    requires dev.kernelbridge.api;
    requires static jdk.incubator.vector;
    requires jdk.management;

    exports dev.kernelbridge.cpu.routines;

    uses dev.kernelbridge.cpu.routines.CpuRoutineProvider;

    provides dev.kernelbridge.spi.BackendProvider with dev.kernelbridge.cpu.CpuBackendProvider;
}
