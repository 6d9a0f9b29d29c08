package dev.kernelbridge.cpublas;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kernelbridge.Config;
import dev.kernelbridge.spi.Availability;
import dev.kernelbridge.spi.Backend;
import dev.kernelbridge.spi.BackendProvider;

/**
 * The CPU backend as the kit sees it when a routine of this module is forced or chosen: available
 * only where OpenBLAS is (ci/test installs it and sets kernelbridge.test.requireOpenBlas, so there a
 * missing library fails instead of skipping).
 */
final class OpenBlasPresent implements BackendProvider {
    /** The built-in CPU backend, found as the bridge finds it. */
    private final BackendProvider cpu = java.util.ServiceLoader.load(BackendProvider.class).stream().map(java.util.ServiceLoader.Provider::get)
            .filter(p -> p.name().equals("cpu")).findFirst().orElseThrow();

    static boolean required() {
        return Boolean.getBoolean("kernelbridge.test.requireOpenBlas");
    }

    static void assume() {
        Availability a = new OpenBlasProvider().probe(Config.fromEnvironment());
        if (required()) {
            assertTrue(a.available(), "ci/test installed OpenBLAS but the routine is unavailable: " + a.cause());
        }
        assumeTrue(a.available(), a.cause());
    }

    @Override
    public String name() { return cpu.name(); }

    @Override
    public int priority() { return cpu.priority(); }

    @Override
    public Availability probe() {
        Availability blas = new OpenBlasProvider().probe(Config.fromEnvironment());
        return blas.available() ? cpu.probe() : blas;
    }

    @Override
    public Backend open(Config config) { return cpu.open(config); }
}
