package dev.kernelbridge.cpublas;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kernelbridge.Config;
import dev.kernelbridge.cpu.routines.CpuRoutineProvider;
import dev.kernelbridge.spi.Availability;
import dev.kernelbridge.spi.Backend;
import dev.kernelbridge.spi.BackendProvider;

/**
 * The CPU backend as the kit sees it when a routine of this module is forced or chosen: available
 * only where the routine's library is (ci/test installs OpenBLAS and oneDNN and sets
 * kernelbridge.test.requireCpuRoutines, so there a missing library fails instead of skipping).
 */
final class RoutinePresent implements BackendProvider {
    /** The built-in CPU backend, found as the bridge finds it. */
    private final BackendProvider cpu = java.util.ServiceLoader.load(BackendProvider.class).stream().map(java.util.ServiceLoader.Provider::get)
            .filter(p -> p.name().equals("cpu")).findFirst().orElseThrow();

    private final CpuRoutineProvider routine;

    RoutinePresent(CpuRoutineProvider routine) {
        this.routine = routine;
    }

    static boolean required() {
        return Boolean.getBoolean("kernelbridge.test.requireCpuRoutines");
    }

    static void assume(CpuRoutineProvider routine) {
        Availability a = routine.probe(Config.fromEnvironment());
        if (required()) {
            assertTrue(a.available(), "ci/test installed " + routine.name() + "'s library but the routine is unavailable: " + a.cause());
        }
        assumeTrue(a.available(), a.cause());
    }

    @Override
    public String name() { return cpu.name(); }

    @Override
    public int priority() { return cpu.priority(); }

    @Override
    public Availability probe() {
        Availability library = routine.probe(Config.fromEnvironment());
        return library.available() ? cpu.probe() : library;
    }

    @Override
    public Backend open(Config config) { return cpu.open(config); }
}
