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

    @Override
    public Backend open(Config config) {
        return new CpuBackend(config);
    }
}
