package dev.kernelbridge.cpu;

import java.util.Optional;

/**
 * Decides once whether the Vector API kernels may load. The vectorised classes are touched only
 * after this gate says yes, so a JVM without {@code --add-modules jdk.incubator.vector} never links
 * them and gets the scalar path with one warning that names the flag.
 */
final class VectorGate {
    static final String FLAG = "--add-modules jdk.incubator.vector";

    private VectorGate() { }

    /** Empty when the Vector API is readable from this module, else why not. */
    static Optional<String> unavailableCause() {
        Optional<Module> vector = ModuleLayer.boot().findModule("jdk.incubator.vector");
        if (vector.isEmpty()) {
            return Optional.of("jdk.incubator.vector is not enabled; start java with " + FLAG);
        }
        if (!VectorGate.class.getModule().canRead(vector.get())) {
            return Optional.of("jdk.incubator.vector is not readable by " + VectorGate.class.getModule() + "; start java with " + FLAG);
        }
        return Optional.empty();
    }

    /** Bits of the preferred vector species, e.g. 512 on AVX-512. Call only when the gate is open. */
    static int preferredBits() {
        return jdk.incubator.vector.VectorShape.preferredShape().vectorBitSize();
    }
}
