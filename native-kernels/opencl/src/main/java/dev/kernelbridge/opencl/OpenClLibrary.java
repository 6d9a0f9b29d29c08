package dev.kernelbridge.opencl;

import dev.kernelbridge.Config;
import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.util.ArrayList;
import java.util.List;
import org.lwjgl.system.Configuration;

/**
 * Finds the system's OpenCL ICD loader and points LWJGL at it before LWJGL looks for one itself.
 * LWJGL's own lookup wants the unversioned {@code libOpenCL.so}, which only the loader's -dev package
 * installs, and prints its own advice to stderr when that fails; a runtime package's versioned soname
 * must be enough, and a library must stay quiet. Names tried, in order: {@code kernelbridge.opencl.library}
 * if set (alone), else {@code libOpenCL.so.1}, then {@code libOpenCL.so}. LWJGL's own setting
 * ({@code org.lwjgl.opencl.libname}), when an embedder set it, is left as it is.
 */
public final class OpenClLibrary {
    public static final Config.Knob LIBRARY = new Config.Knob("opencl.library", "",
            "path or soname of the OpenCL ICD loader; empty: libOpenCL.so.1, then libOpenCL.so");
    static final List<String> DEFAULT_NAMES = List.of("libOpenCL.so.1", "libOpenCL.so");

    private static String loaded;

    private OpenClLibrary() { }

    /** The names tried for a setting of {@link #LIBRARY} (empty: the defaults). */
    static List<String> candidates(String configured) {
        return configured.isBlank() ? DEFAULT_NAMES : List.of(configured.trim());
    }

    /**
     * Makes sure LWJGL will load an ICD loader that exists; returns its name. Throws
     * {@link UnsatisfiedLinkError} naming every name tried when none loads, before LWJGL is touched.
     */
    public static synchronized String ensureLoaded(Config config) {
        if (loaded != null) {
            return loaded;
        }
        String preset = Configuration.OPENCL_LIBRARY_NAME.get();
        if (preset != null) {
            return loaded = preset;
        }
        List<String> tried = new ArrayList<>();
        for (String name : candidates(config.get(LIBRARY))) {
            try {
                SymbolLookup.libraryLookup(name, Arena.global()); // dlopen: the same search LWJGL's will do
                Configuration.OPENCL_LIBRARY_NAME.set(name);
                return loaded = name;
            } catch (IllegalArgumentException absent) {
                tried.add(name);
            }
        }
        throw new UnsatisfiedLinkError("no OpenCL ICD loader found (tried " + String.join(", ", tried)
                + (config.get(LIBRARY).isBlank() ? "" : ", from " + config.source(LIBRARY)) + ")");
    }
}
