package dev.kernelbridge.examples.openblas;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * The few OpenBLAS functions this backend calls, bound through FFM in one table. CBLAS takes
 * 32-bit dimensions (LP64 build), so callers must check them first.
 */
final class OpenBlasLibrary {
    static final String SONAME = "libopenblas.so.0";
    static final int COL_MAJOR = 102, NO_TRANS = 111, TRANS = 112;

    final MethodHandle sgemm, dgemm, setNumThreads, coreName;

    private OpenBlasLibrary(SymbolLookup lib) {
        Linker linker = Linker.nativeLinker();
        ValueLayout I = ValueLayout.JAVA_INT, P = ValueLayout.ADDRESS;
        sgemm = linker.downcallHandle(lib.findOrThrow("cblas_sgemm"),
                FunctionDescriptor.ofVoid(I, I, I, I, I, I, ValueLayout.JAVA_FLOAT, P, I, P, I, ValueLayout.JAVA_FLOAT, P, I));
        dgemm = linker.downcallHandle(lib.findOrThrow("cblas_dgemm"),
                FunctionDescriptor.ofVoid(I, I, I, I, I, I, ValueLayout.JAVA_DOUBLE, P, I, P, I, ValueLayout.JAVA_DOUBLE, P, I));
        setNumThreads = linker.downcallHandle(lib.findOrThrow("openblas_set_num_threads"), FunctionDescriptor.ofVoid(I));
        coreName = linker.downcallHandle(lib.findOrThrow("openblas_get_corename"), FunctionDescriptor.of(P));
    }

    /** Loads the library; throws IllegalArgumentException (not found) or NoSuchElementException (symbol missing). */
    static OpenBlasLibrary load() {
        return new OpenBlasLibrary(SymbolLookup.libraryLookup(SONAME, Arena.global()));
    }

    String coreName() {
        try {
            return ((MemorySegment) coreName.invokeExact()).reinterpret(64).getString(0);
        } catch (Throwable t) {
            return "unknown";
        }
    }
}
