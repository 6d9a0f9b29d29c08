package dev.kernelbridge.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

/**
 * The OpenBLAS peer through FFM: cblas_sgemm/cblas_dgemm, thread count and the name of the core
 * kernels it chose. Loaded by soname; absent OpenBLAS is reported, not fatal.
 */
public final class OpenBlas {
    public static final int COL_MAJOR = 102, NO_TRANS = 111, TRANS = 112;

    private static final String LIBRARY = "libopenblas.so.0";
    private static final Optional<OpenBlas> INSTANCE = load();

    private final MethodHandle sgemm, dgemm, setThreads, getThreads, coreName, config;

    private OpenBlas(SymbolLookup lib) {
        Linker linker = Linker.nativeLinker();
        ValueLayout I = ValueLayout.JAVA_INT, P = ValueLayout.ADDRESS;
        sgemm = linker.downcallHandle(lib.findOrThrow("cblas_sgemm"), FunctionDescriptor.ofVoid(
                I, I, I, I, I, I, ValueLayout.JAVA_FLOAT, P, I, P, I, ValueLayout.JAVA_FLOAT, P, I));
        dgemm = linker.downcallHandle(lib.findOrThrow("cblas_dgemm"), FunctionDescriptor.ofVoid(
                I, I, I, I, I, I, ValueLayout.JAVA_DOUBLE, P, I, P, I, ValueLayout.JAVA_DOUBLE, P, I));
        setThreads = linker.downcallHandle(lib.findOrThrow("openblas_set_num_threads"), FunctionDescriptor.ofVoid(I));
        getThreads = linker.downcallHandle(lib.findOrThrow("openblas_get_num_threads"), FunctionDescriptor.of(I));
        coreName = linker.downcallHandle(lib.findOrThrow("openblas_get_corename"), FunctionDescriptor.of(P));
        config = linker.downcallHandle(lib.findOrThrow("openblas_get_config"), FunctionDescriptor.of(P));
    }

    private static Optional<OpenBlas> load() {
        try {
            return Optional.of(new OpenBlas(SymbolLookup.libraryLookup(LIBRARY, Arena.global())));
        } catch (IllegalArgumentException | java.util.NoSuchElementException e) {
            return Optional.empty();
        }
    }

    /** The library, or empty when libopenblas.so.0 is not installed. */
    public static Optional<OpenBlas> get() { return INSTANCE; }

    public void setThreads(int threads) {
        try {
            setThreads.invokeExact(threads);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** openblas_get_num_threads: a downcall that does no work, to time FFM itself. */
    public int threads() {
        try {
            return (int) getThreads.invokeExact();
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** The kernel family OpenBLAS runs (e.g. "SkylakeX", "Haswell", "Prescott"). */
    public String coreName() {
        return string(coreName);
    }

    public String config() {
        return string(config);
    }

    private static String string(MethodHandle h) {
        try {
            MemorySegment s = (MemorySegment) h.invokeExact();
            return s.reinterpret(256).getString(0);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    public void sgemm(int transA, int transB, int m, int n, int k, float alpha, MemorySegment a, int lda,
                      MemorySegment b, int ldb, float beta, MemorySegment c, int ldc) {
        try {
            sgemm.invokeExact(COL_MAJOR, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    public void dgemm(int transA, int transB, int m, int n, int k, double alpha, MemorySegment a, int lda,
                      MemorySegment b, int ldb, double beta, MemorySegment c, int ldc) {
        try {
            dgemm.invokeExact(COL_MAJOR, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }
}
