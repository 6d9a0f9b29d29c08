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
    /** How to get an OpenCL runtime on Debian or Ubuntu (the CPU driver; a GPU vendor's ICD works the same). */
    public static final String INSTALL_HINT = "sudo apt-get install ocl-icd-libopencl1 pocl-opencl-icd";

    @Override
    public String name() { return "opencl"; }

    @Override
    public java.util.List<dev.kernelbridge.Config.Knob> knobs() { return java.util.List.of(OpenClLibrary.LIBRARY); }

    @Override
    public int priority() { return 20; }

    @Override
    public Availability probe() {
        try {
            OpenClLibrary.ensureLoaded(Config.fromEnvironment());
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
                return Availability.unavailable("the OpenCL ICD loader found no platform with a device", INSTALL_HINT);
            }
            return Availability.ok(devices + " device(s): " + names);
        } catch (UnsatisfiedLinkError e) {
            return Availability.unavailable(e.getMessage(), INSTALL_HINT);
        } catch (Throwable e) { // ExceptionInInitializerError and kin: a loader that LWJGL cannot use
            return Availability.unavailable("the OpenCL ICD loader could not be used: " + e, INSTALL_HINT);
        }
    }

    @Override
    public Backend open(Config config) {
        return new OpenClBackend(config);
    }
}
