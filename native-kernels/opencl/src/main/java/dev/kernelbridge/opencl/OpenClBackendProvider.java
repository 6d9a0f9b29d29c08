package dev.kernelbridge.opencl;

import dev.kernelbridge.Config;
import dev.kernelbridge.spi.Availability;
import dev.kernelbridge.spi.Backend;
import dev.kernelbridge.spi.BackendProvider;

/**
 * The OpenCL backend: every device the system's ICD loader reports (libOpenCL.so.1 and the vendor
 * drivers registered in /etc/OpenCL/vendors). No vendor runtime is bundled.
 */
public final class OpenClBackendProvider implements BackendProvider {
    /** How to get an OpenCL runtime on Debian or Ubuntu; doctor repeats it. */
    public static final String INSTALL_HINT = "install an OpenCL driver and the ICD loader, e.g. "
            + "`sudo apt-get install ocl-icd-libopencl1 pocl-opencl-icd` (CPU), or your GPU vendor's OpenCL package";

    @Override
    public String name() { return "opencl"; }

    @Override
    public int priority() { return 20; }

    @Override
    public Availability probe() {
        try {
            int devices = 0;
            StringBuilder names = new StringBuilder();
            for (long platform : OpenClBackend.platforms()) {
                int n = OpenClBackend.devices(platform).length;
                devices += n;
                if (n > 0) {
                    names.append(names.isEmpty() ? "" : ", ").append(OpenClBackend.platformName(platform)).append(" (").append(n).append(')');
                }
            }
            if (devices == 0) {
                return Availability.unavailable("the OpenCL ICD loader found no platform with a device; " + INSTALL_HINT);
            }
            return Availability.ok(devices + " device(s): " + names);
        } catch (Throwable e) { // UnsatisfiedLinkError, ExceptionInInitializerError: no libOpenCL here
            return Availability.unavailable("no OpenCL ICD loader (libOpenCL.so.1) could be loaded: " + e
                    + "; " + INSTALL_HINT);
        }
    }

    @Override
    public Backend open(Config config) {
        return new OpenClBackend(config);
    }
}
