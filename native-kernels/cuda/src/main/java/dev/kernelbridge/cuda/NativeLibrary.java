package dev.kernelbridge.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Optional;

/** A loaded vendor library with every function of its {@link NativeFunction} table bound, called by declared name. */
final class NativeLibrary {
    private final Map<String, MethodHandle> handles;
    /** The name or path it was loaded by. */
    final String name;
    private final SymbolLookup lib;

    private NativeLibrary(String name, SymbolLookup lib, Map<String, NativeFunction> table) {
        this.name = name;
        this.lib = lib;
        this.handles = new java.util.concurrent.ConcurrentHashMap<>(NativeFunction.bind(lib, table));
    }

    /**
     * Binds {@code f} when this library exports it (a function newer than the oldest version we load,
     * such as cuBLAS 12.5's grouped GEMM); true when it is then callable by its declared name.
     */
    boolean bindOptional(NativeFunction f) {
        if (handles.containsKey(f.declared())) {
            return true;
        }
        if (lib.find(f.symbol()).isEmpty()) {
            return false;
        }
        handles.putAll(NativeFunction.bind(lib, Map.of(f.declared(), f)));
        return true;
    }

    /** {@code name} with {@code table} bound; empty when the library is not on this machine (a missing symbol throws). */
    static Optional<NativeLibrary> load(String name, Map<String, NativeFunction> table) {
        SymbolLookup lib;
        try {
            lib = SymbolLookup.libraryLookup(name, Arena.global());
        } catch (IllegalArgumentException absent) {
            return Optional.empty();
        }
        return Optional.of(new NativeLibrary(name, lib, table));
    }

    /**
     * The first of {@code names} found by {@link LibrarySearch} (each name in each folder, then on the
     * loader's path) that loads and has every function of {@code table}; {@code beforeEach} runs
     * before each attempt (NVRTC preloads its builtins from the same folder).
     */
    static Optional<NativeLibrary> search(List<String> names, Map<String, NativeFunction> table,
                                          java.util.function.Consumer<String> beforeEach) {
        List<String> candidates = LibrarySearch.candidates(names, LibrarySearch.folders(dev.kernelbridge.Config.fromEnvironment()));
        for (String candidate : candidates) {
            beforeEach.accept(candidate);
            Optional<NativeLibrary> lib = loadFirst(List.of(candidate), table);
            if (lib.isPresent()) {
                return lib;
            }
        }
        return Optional.empty();
    }

    /** The first of {@code names} that loads and has every function of {@code table}; empty when none does. */
    static Optional<NativeLibrary> loadFirst(List<String> names, Map<String, NativeFunction> table) {
        for (String name : names) {
            try {
                Optional<NativeLibrary> lib = load(name, table);
                if (lib.isPresent()) {
                    return lib;
                }
            } catch (NoSuchElementException tooOld) {
                // a version without one of our functions: try the next name
            }
        }
        return Optional.empty();
    }

    /** The bound handle of {@code name}, for callers that invoke it exactly (hot paths). */
    MethodHandle handle(String name) {
        MethodHandle h = handles.get(name);
        if (h == null) {
            throw new IllegalArgumentException(name + " is not in this library's table");
        }
        return h;
    }

    static RuntimeException rethrow(String name, Throwable t) {
        if (t instanceof RuntimeException r) {
            return r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException(name + " failed", t);
    }

    /** Calls {@code name} (a function returning a status int); returns the status. */
    int call(String name, Object... args) {
        MethodHandle h = handles.get(name);
        if (h == null) {
            throw new IllegalArgumentException(name + " is not in this library's table");
        }
        try {
            return (int) h.invokeWithArguments(args);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(name + " failed", t);
        }
    }

    /** The text a {@code const char *f(int status)} function gives for {@code status}, or {@code fallback}. */
    String text(String function, int status, String fallback) {
        try {
            MemorySegment s = (MemorySegment) handles.get(function).invokeExact(status);
            return s.equals(MemorySegment.NULL) ? fallback : s.reinterpret(512).getString(0);
        } catch (Throwable t) {
            return fallback;
        }
    }
}
