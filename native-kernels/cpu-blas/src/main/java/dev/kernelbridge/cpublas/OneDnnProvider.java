package dev.kernelbridge.cpublas;

import dev.kernelbridge.Config;
import dev.kernelbridge.cpu.routines.CpuGemmRoutine;
import dev.kernelbridge.cpu.routines.CpuRoutineProvider;
import dev.kernelbridge.spi.Availability;

/** oneDNN 2.x as a CPU GEMM routine, where {@code libdnnl.so.2} (or {@code kernelbridge.onednn.library}) loads. */
public final class OneDnnProvider implements CpuRoutineProvider {
    public static final Config.Knob LIBRARY = new Config.Knob("onednn.library", OneDnn.SONAME,
            "Path or name of the oneDNN library (2.x ABI) the CPU device's onednn routine binds; it threads with libgomp.");
    static final String INSTALL_HINT = "sudo apt-get install libdnnl2 (oneDNN 2.x; a 3.x library has another ABI)";

    @Override
    public String name() { return OneDnnRoutine.NAME; }

    @Override
    public java.util.List<Config.Knob> knobs() { return java.util.List.of(LIBRARY); }

    @Override
    public Availability probe(Config config) {
        try {
            return Availability.ok(OneDnn.load(config.get(LIBRARY)).describe());
        } catch (IllegalArgumentException e) {
            return Availability.unavailable("oneDNN is not installed: " + e.getMessage(), INSTALL_HINT);
        } catch (java.util.NoSuchElementException e) {
            return Availability.unavailable("the library found lacks oneDNN 2.x's GEMM functions: " + e.getMessage(), INSTALL_HINT);
        } catch (RuntimeException | LinkageError e) {
            return Availability.unavailable(String.valueOf(e.getMessage()), INSTALL_HINT);
        }
    }

    @Override
    public CpuGemmRoutine open(Config config, int threads) {
        return new OneDnnRoutine(OneDnn.load(config.get(LIBRARY)), threads);
    }
}
