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
 * The BLIS peer through FFM, where it is installed (Debian: libblis4-pthread): its CBLAS
 * interface, its thread count and version. Absent BLIS is reported, not fatal.
 */
public final class Blis {
    private static final String LIBRARY = "libblis.so.4";
    private static final Optional<Blis> INSTANCE = load();

    private final MethodHandle sgemm, dgemm, setThreads, version;

    private Blis(SymbolLookup lib) {
        Linker linker = Linker.nativeLinker();
        ValueLayout I = ValueLayout.JAVA_INT, P = ValueLayout.ADDRESS;
        sgemm = linker.downcallHandle(lib.findOrThrow("cblas_sgemm"), FunctionDescriptor.ofVoid(
                I, I, I, I, I, I, ValueLayout.JAVA_FLOAT, P, I, P, I, ValueLayout.JAVA_FLOAT, P, I));
        dgemm = linker.downcallHandle(lib.findOrThrow("cblas_dgemm"), FunctionDescriptor.ofVoid(
                I, I, I, I, I, I, ValueLayout.JAVA_DOUBLE, P, I, P, I, ValueLayout.JAVA_DOUBLE, P, I));
        setThreads = linker.downcallHandle(lib.findOrThrow("bli_thread_set_num_threads"), FunctionDescriptor.ofVoid(ValueLayout.JAVA_LONG));
        version = linker.downcallHandle(lib.findOrThrow("bli_info_get_version_str"), FunctionDescriptor.of(P));
    }

    private static Optional<Blis> load() {
        try {
            return Optional.of(new Blis(SymbolLookup.libraryLookup(LIBRARY, Arena.global())));
        } catch (IllegalArgumentException | java.util.NoSuchElementException e) {
            return Optional.empty();
        }
    }

    /** BLIS, or empty when libblis.so.4 (with its CBLAS interface) is not installed. */
    public static Optional<Blis> get() { return INSTANCE; }

    public void setThreads(int threads) {
        try {
            setThreads.invokeExact((long) threads);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    public String version() {
        try {
            return ((MemorySegment) version.invokeExact()).reinterpret(64).getString(0);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    public void sgemm(int n, MemorySegment a, MemorySegment b, MemorySegment c) {
        try {
            sgemm.invokeExact(OpenBlas.COL_MAJOR, OpenBlas.NO_TRANS, OpenBlas.NO_TRANS, n, n, n, 1f, a, n, b, n, 0f, c, n);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    public void dgemm(int n, MemorySegment a, MemorySegment b, MemorySegment c) {
        try {
            dgemm.invokeExact(OpenBlas.COL_MAJOR, OpenBlas.NO_TRANS, OpenBlas.NO_TRANS, n, n, n, 1.0, a, n, b, n, 0.0, c, n);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }
}
