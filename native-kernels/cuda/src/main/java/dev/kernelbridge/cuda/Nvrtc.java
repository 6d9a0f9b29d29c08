package dev.kernelbridge.cuda;

import dev.kernelbridge.spi.NativeMemory;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * NVRTC (libnvrtc) through FFM: compiles the shared kernel sources to PTX at run time, for a GPU
 * none of the shipped PTX suits. Optional: absent on machines without the CUDA runtime libraries.
 * {@link #FUNCTIONS} is checked against nvrtc.h where installed, else against the prototypes
 * checked in under src/test/resources/prototypes.
 */
final class Nvrtc {
    private static final java.lang.foreign.MemoryLayout P = NativeFunction.P, I = NativeFunction.I;

    /** Every NVRTC call returns nvrtcResult (an int) except nvrtcGetErrorString. */
    static final Map<String, NativeFunction> FUNCTIONS = NativeFunction.table(
            NativeFunction.of("nvrtcVersion", I, P, P),
            NativeFunction.of("nvrtcCreateProgram", I, P, P, P, I, P, P),
            NativeFunction.of("nvrtcCompileProgram", I, P, I, P),
            NativeFunction.of("nvrtcGetPTXSize", I, P, P),
            NativeFunction.of("nvrtcGetPTX", I, P, P),
            NativeFunction.of("nvrtcGetCUBINSize", I, P, P),
            NativeFunction.of("nvrtcGetCUBIN", I, P, P),
            NativeFunction.of("nvrtcGetProgramLogSize", I, P, P),
            NativeFunction.of("nvrtcGetProgramLog", I, P, P),
            NativeFunction.of("nvrtcDestroyProgram", I, P),
            NativeFunction.of("nvrtcGetErrorString", P, I));

    /** Library names tried in order: the runtimes of recent toolkits by soname (newest first), then the development link. */
    static final List<String> LIBRARIES = List.of("libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so");

    private final NativeLibrary lib;

    private Nvrtc(NativeLibrary lib) {
        this.lib = lib;
    }

    /** Where it was loaded from (a path, or a soname the loader resolved). */
    String location() {
        return lib.name;
    }

    /**
     * NVRTC where {@link LibrarySearch} finds it (looked for once per process), or empty. NVRTC opens its
     * builtins library (libnvrtc-builtins.so.MAJOR.MINOR) by name at compile time; when NVRTC comes from a
     * folder off the loader's path (a Python wheel), the builtins beside it are loaded first so that the
     * loader finds them already there.
     */
    static Optional<Nvrtc> load() {
        return Found.LIBRARY;
    }

    /** Looked for once per process, on first use (class initialisation is lazy and thread-safe). */
    private static final class Found {
        static final Optional<Nvrtc> LIBRARY = NativeLibrary.search(LIBRARIES, FUNCTIONS, Nvrtc::preloadBuiltins).map(Nvrtc::new);
    }

    private static void preloadBuiltins(String candidate) {
        java.nio.file.Path lib = java.nio.file.Path.of(candidate);
        if (!lib.isAbsolute() || lib.getParent() == null) {
            return;
        }
        try (java.nio.file.DirectoryStream<java.nio.file.Path> s = java.nio.file.Files.newDirectoryStream(lib.getParent(), "libnvrtc-builtins.so.*")) {
            for (java.nio.file.Path builtins : s) {
                try {
                    java.lang.foreign.SymbolLookup.libraryLookup(builtins, java.lang.foreign.Arena.global());
                    return;
                } catch (IllegalArgumentException unusable) {
                    // another version's file: try the next
                }
            }
        } catch (java.io.IOException e) {
            // no builtins beside it: NVRTC will report its own error at compile time
        }
    }

    /**
     * The module image of {@code source} for {@code arch} with {@code options}, as cuModuleLoadData takes
     * it: PTX text (NUL-terminated) for a virtual architecture ("compute_80"), a CUBIN for a real one
     * ("sm_90": no PTX JIT, so no PTX ISA version the driver must know). The build log on failure.
     */
    byte[] compile(String source, String name, String arch, List<String> options) {
        try (Arena a = NativeMemory.confined()) {
            MemorySegment prog = a.allocate(ValueLayout.ADDRESS);
            check("nvrtcCreateProgram", call("nvrtcCreateProgram", prog, a.allocateFrom(source), a.allocateFrom(name), 0,
                    MemorySegment.NULL, MemorySegment.NULL));
            MemorySegment handle = prog.get(ValueLayout.ADDRESS, 0);
            try {
                List<String> all = new java.util.ArrayList<>(options);
                all.add("--gpu-architecture=" + arch);
                MemorySegment opts = a.allocate(ValueLayout.ADDRESS, all.size());
                for (int i = 0; i < all.size(); i++) {
                    opts.setAtIndex(ValueLayout.ADDRESS, i, a.allocateFrom(all.get(i)));
                }
                int r = call("nvrtcCompileProgram", handle, all.size(), opts);
                if (r != 0) {
                    throw new IllegalStateException("NVRTC could not compile " + name + " for " + arch + ": " + errorString(r) + "\n" + log(a, handle));
                }
                String kind = arch.startsWith("sm_") ? "CUBIN" : "PTX";
                MemorySegment size = a.allocate(ValueLayout.JAVA_LONG);
                check("nvrtcGet" + kind + "Size", call("nvrtcGet" + kind + "Size", handle, size));
                MemorySegment image = a.allocate(size.get(ValueLayout.JAVA_LONG, 0));
                check("nvrtcGet" + kind, call("nvrtcGet" + kind, handle, image));
                return image.toArray(ValueLayout.JAVA_BYTE); // the PTX size counts its NUL

            } finally {
                call("nvrtcDestroyProgram", prog);
            }
        }
    }

    private String log(Arena a, MemorySegment handle) {
        MemorySegment size = a.allocate(ValueLayout.JAVA_LONG);
        if (call("nvrtcGetProgramLogSize", handle, size) != 0) {
            return "(no log)";
        }
        MemorySegment text = a.allocate(Math.max(1, size.get(ValueLayout.JAVA_LONG, 0)));
        return call("nvrtcGetProgramLog", handle, text) == 0 ? text.getString(0) : "(no log)";
    }

    private void check(String function, int result) {
        if (result != 0) {
            throw new IllegalStateException(function + " failed: " + errorString(result));
        }
    }

    private String errorString(int result) {
        return lib.text("nvrtcGetErrorString", result, "NVRTC error " + result);
    }

    private int call(String name, Object... args) {
        return lib.call(name, args);
    }
}
