/**
 * Native GEMM routines for the CPU device (OpenBLAS and oneDNN through FFM), found by the CPU backend through
 * {@link dev.kernelbridge.cpu.routines.CpuRoutineProvider}.
 */
module dev.kernelbridge.cpublas {
    requires dev.kernelbridge.api;
    requires dev.kernelbridge.cpu;

    provides dev.kernelbridge.cpu.routines.CpuRoutineProvider with dev.kernelbridge.cpublas.OpenBlasProvider,
            dev.kernelbridge.cpublas.OneDnnProvider;
}
