package dev.kernelbridge.opencl;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/** The shared kernel files (native-kernels/kernels), packaged in the jar, with the compatibility header in front. */
final class KernelSources {
    private static final String DIR = "/dev/kernelbridge/kernels/";

    private KernelSources() { }

    /** The text OpenCL compiles for {@code file}, e.g. "gemm.cl". */
    static String program(String file) {
        return read("kernelbridge_compat.h") + "\n#line 1\n" + read(file);
    }

    private static String read(String name) {
        try (InputStream in = KernelSources.class.getResourceAsStream(DIR + name)) {
            if (in == null) {
                throw new IllegalStateException("kernel source " + name + " is missing from the kernelbridge-opencl jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
