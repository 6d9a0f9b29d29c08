package dev.kernelbridge.cpu.routines;

import dev.kernelbridge.Config;
import dev.kernelbridge.spi.Availability;

/**
 * Entry point of CPU GEMM routines, found by {@link java.util.ServiceLoader} when the CPU backend
 * opens (module {@code kernelbridge-cpu-blas} provides OpenBLAS's). Like a backend provider: a probe
 * that never throws, then the routine.
 */
public interface CpuRoutineProvider {
    /** kernelbridge.cpu.gemm: which routine the CPU device runs GEMMs on. */
    Config.Knob SETTING = new Config.Knob("cpu.gemm", "auto",
            "GEMM routine on the CPU device: auto (per shape class, the fastest of the Vector API kernels and each native"
                    + " routine installed, timed once on scratch buffers), vector, or a routine's name (openblas). A call the"
                    + " chosen routine cannot run exactly as the GEMM contract says runs on the Vector API kernels.");

    /** The routine's name, as {@link CpuGemmRoutine#name()}. */
    String name();

    /** Whether the library {@code config} names is here and of an ABI this binding knows; the cause and fix when not. Never throws. */
    Availability probe(Config config);

    /** The routine, using at most {@code threads} threads of its own (the cores the CPU device owns). After a successful probe. */
    CpuGemmRoutine open(Config config, int threads);

    /** The settings it reads, as {@link dev.kernelbridge.spi.BackendProvider#knobs()}. */
    default java.util.List<Config.Knob> knobs() { return java.util.List.of(); }
}
