package dev.kernelbridge.cpu;

import dev.kernelbridge.Config;
import dev.kernelbridge.spi.Availability;
import dev.kernelbridge.spi.Backend;
import dev.kernelbridge.spi.BackendProvider;

/** The CPU backend: always available, lowest priority, registered through the same SPI as any vendor's. */
public final class CpuBackendProvider implements BackendProvider {

    @Override
    public String name() { return "cpu"; }

    @Override
    public int priority() { return 0; }

    @Override
    public Availability probe() {
        return Availability.ok(VectorGate.unavailableCause()
                .map(cause -> "scalar kernels: " + cause)
                .orElseGet(() -> "Vector API kernels, " + VectorGate.preferredBits() + "-bit vectors"));
    }

    /** The routine choice, and the settings of each native routine module found. */
    @Override
    public java.util.List<Config.Knob> knobs() {
        java.util.List<Config.Knob> knobs = new java.util.ArrayList<>(java.util.List.of(RoutineChoice.SETTING));
        for (var p : java.util.ServiceLoader.load(dev.kernelbridge.cpu.routines.CpuRoutineProvider.class, CpuBackendProvider.class.getClassLoader())) {
            knobs.addAll(p.knobs());
        }
        return knobs;
    }

    @Override
    public Backend open(Config config) {
        return new CpuBackend(config);
    }
}
