package dev.kernelbridge.cpublas;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * The OpenBLAS functions the routine calls, bound once through FFM. CBLAS in an LP64 build takes
 * 32-bit dimensions and leading dimensions; the routine refuses calls beyond them.
 */
final class OpenBlas {
    static final String SONAME = "libopenblas.so.0";
    static final int COL_MAJOR = 102, NO_TRANS = 111, TRANS = 112;

    final MethodHandle sgemm, dgemm;
    /**
     * The same functions, bound to take heap segments ({@link Linker.Option#critical}): the CPU device
     * hands a framework's Java arrays over in place. A critical call holds off the GC while it runs,
     * so the routine uses these for small calls only.
     */
    final MethodHandle sgemmHeap, dgemmHeap;
    private final MethodHandle setNumThreads, config, coreName;

    private OpenBlas(SymbolLookup lib) {
        Linker linker = Linker.nativeLinker();
        ValueLayout I = ValueLayout.JAVA_INT, P = ValueLayout.ADDRESS;
        // void cblas_xgemm(order, transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc)
        sgemm = linker.downcallHandle(lib.findOrThrow("cblas_sgemm"),
                FunctionDescriptor.ofVoid(I, I, I, I, I, I, ValueLayout.JAVA_FLOAT, P, I, P, I, ValueLayout.JAVA_FLOAT, P, I));
        FunctionDescriptor single = FunctionDescriptor.ofVoid(I, I, I, I, I, I, ValueLayout.JAVA_FLOAT, P, I, P, I, ValueLayout.JAVA_FLOAT, P, I);
        FunctionDescriptor dual = FunctionDescriptor.ofVoid(I, I, I, I, I, I, ValueLayout.JAVA_DOUBLE, P, I, P, I, ValueLayout.JAVA_DOUBLE, P, I);
        dgemm = linker.downcallHandle(lib.findOrThrow("cblas_dgemm"), dual);
        sgemmHeap = linker.downcallHandle(lib.findOrThrow("cblas_sgemm"), single, Linker.Option.critical(true));
        dgemmHeap = linker.downcallHandle(lib.findOrThrow("cblas_dgemm"), dual, Linker.Option.critical(true));
        setNumThreads = linker.downcallHandle(lib.findOrThrow("openblas_set_num_threads"), FunctionDescriptor.ofVoid(I));
        config = linker.downcallHandle(lib.findOrThrow("openblas_get_config"), FunctionDescriptor.of(P));
        coreName = linker.downcallHandle(lib.findOrThrow("openblas_get_corename"), FunctionDescriptor.of(P));
    }

    /** Throws IllegalArgumentException when the library is absent, NoSuchElementException when a symbol is. */
    static OpenBlas load(String library) {
        return new OpenBlas(SymbolLookup.libraryLookup(library, Arena.global()));
    }

    void setThreads(int threads) {
        try {
            setNumThreads.invokeExact(threads);
        } catch (Throwable t) {
            throw new IllegalStateException("openblas_set_num_threads failed", t);
        }
    }

    /** "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Zen MAX_THREADS=64": version and build. */
    String config() {
        return text(config);
    }

    /** The kernels OpenBLAS chose for this CPU: "Zen", "SkylakeX", "Haswell". */
    String coreName() {
        return text(coreName);
    }

    private static String text(MethodHandle h) {
        try {
            return ((MemorySegment) h.invokeExact()).reinterpret(256).getString(0).strip();
        } catch (Throwable t) {
            return "unknown";
        }
    }
}
