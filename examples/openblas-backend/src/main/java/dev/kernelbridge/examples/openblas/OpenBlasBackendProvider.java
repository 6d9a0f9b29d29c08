package dev.kernelbridge.examples.openblas;

import dev.kernelbridge.Config;
import dev.kernelbridge.spi.Availability;
import dev.kernelbridge.spi.Backend;
import dev.kernelbridge.spi.BackendProvider;

/**
 * OpenBLAS as a KernelBridge device: the system BLAS through FFM, for host memory. Priority 10,
 * above the built-in CPU backend (0), because it measures faster on most x86 machines.
 */
public final class OpenBlasBackendProvider implements BackendProvider {
    @Override
    public String name() { return "openblas"; }

    @Override
    public int priority() { return 10; }

    @Override
    public Availability probe() {
        if (!OpenBlasBackendProvider.class.getModule().isNativeAccessEnabled()) {
            return Availability.unavailable("native access is not enabled; start java with --enable-native-access=ALL-UNNAMED");
        }
        try {
            OpenBlasLibrary lib = OpenBlasLibrary.load();
            return Availability.ok("OpenBLAS (" + OpenBlasLibrary.SONAME + "), " + lib.coreName() + " kernels");
        } catch (IllegalArgumentException e) {
            return Availability.unavailable(OpenBlasLibrary.SONAME + " not found; install it (Debian: apt-get install libopenblas0-pthread)");
        } catch (RuntimeException e) {
            return Availability.unavailable(OpenBlasLibrary.SONAME + " is unusable: " + e.getMessage());
        }
    }

    @Override
    public Backend open(Config config) {
        return new OpenBlasBackend(OpenBlasLibrary.load());
    }
}
