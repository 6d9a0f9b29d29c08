package @PACKAGE@;

import dev.kernelbridge.Config;
import dev.kernelbridge.spi.Availability;
import dev.kernelbridge.spi.Backend;
import dev.kernelbridge.spi.BackendProvider;

/**
 * Entry point of the @NAME@ backend, found by ServiceLoader through
 * META-INF/services/dev.kernelbridge.spi.BackendProvider. probe() must never throw: check that
 * your driver is installed and say what is missing if it is not.
 */
public final class @CLASS@BackendProvider implements BackendProvider {
    @Override
    public String name() { return "@NAME@"; }

    /** Above the built-in CPU backend (0) once your device is faster. */
    @Override
    public int priority() { return 5; }

    @Override
    public Availability probe() {
        // TODO: look for your driver (e.g. SymbolLookup.libraryLookup("libyourdriver.so", arena)).
        return Availability.ok("@NAME@ reference kernels on the host");
    }

    @Override
    public Backend open(Config config) {
        return new @CLASS@Backend();
    }
}
