package dev.kernelbridge.cpublas;

import dev.kernelbridge.Config;
import dev.kernelbridge.cpu.routines.CpuGemmRoutine;
import dev.kernelbridge.cpu.routines.CpuRoutineProvider;
import dev.kernelbridge.spi.Availability;

/** OpenBLAS as a CPU GEMM routine, where {@code libopenblas.so.0} (or {@code kernelbridge.openblas.library}) loads. */
public final class OpenBlasProvider implements CpuRoutineProvider {
    public static final Config.Knob LIBRARY = new Config.Knob("openblas.library", OpenBlas.SONAME,
            "Path or name of the OpenBLAS library the CPU device's openblas routine binds (CBLAS, LP64).");
    static final String INSTALL_HINT = "sudo apt-get install libopenblas0-pthread (or point kernelbridge.openblas.library at a libopenblas)";

    @Override
    public String name() { return OpenBlasRoutine.NAME; }

    @Override
    public java.util.List<Config.Knob> knobs() { return java.util.List.of(LIBRARY); }

    @Override
    public Availability probe(Config config) {
        try {
            OpenBlas lib = OpenBlas.load(config.get(LIBRARY));
            return Availability.ok(lib.config());
        } catch (IllegalArgumentException e) {
            return Availability.unavailable("OpenBLAS is not installed: " + e.getMessage(), INSTALL_HINT);
        } catch (java.util.NoSuchElementException e) {
            return Availability.unavailable("the library found is not an OpenBLAS with CBLAS: " + e.getMessage(), INSTALL_HINT);
        } catch (RuntimeException | LinkageError e) {
            return Availability.unavailable("OpenBLAS did not load: " + e, INSTALL_HINT);
        }
    }

    @Override
    public CpuGemmRoutine open(Config config, int threads) {
        return new OpenBlasRoutine(OpenBlas.load(config.get(LIBRARY)), threads);
    }
}
