package dev.kernelbridge.opencl;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kernelbridge.spi.Availability;

/**
 * Whether the OpenCL tests can run here. Where ci/test installed PoCL it sets
 * kernelbridge.test.requireOpenCl, and a missing device fails instead of skipping.
 */
final class OpenClTestSupport {
    private OpenClTestSupport() { }

    static boolean required() {
        return Boolean.getBoolean("kernelbridge.test.requireOpenCl");
    }

    /** Skips (or, where required, fails) unless an OpenCL device is here. */
    static void assumeOpenCl() {
        Availability a = new OpenClBackendProvider().probe();
        if (required()) {
            assertTrue(a.available(), "ci/test installed PoCL but the OpenCL backend is unavailable: " + a.cause());
        }
        assumeTrue(a.available(), a.cause());
    }
}
