package dev.kernelbridge.cuda;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One bound C function of a vendor library: the exported symbol (the versioned entry point a header
 * maps the name to, e.g. cuMemAlloc → cuMemAlloc_v2), the name the header declares, and its C
 * return and argument layouts on LP64. Every binding class keeps one table of these; tests check
 * each table against the vendor's header prototypes.
 */
record NativeFunction(String symbol, String declared, MemoryLayout result, List<MemoryLayout> args) {
    static final ValueLayout P = ValueLayout.ADDRESS;      // pointers and opaque handles
    static final ValueLayout I = ValueLayout.JAVA_INT;     // int, unsigned int, enums, status codes
    static final ValueLayout L = ValueLayout.JAVA_LONG;    // size_t, long long, CUdeviceptr

    FunctionDescriptor descriptor() {
        return result == null ? FunctionDescriptor.ofVoid(args.toArray(MemoryLayout[]::new))
                : FunctionDescriptor.of(result, args.toArray(MemoryLayout[]::new));
    }

    static NativeFunction of(String symbol, MemoryLayout result, MemoryLayout... args) {
        return new NativeFunction(symbol, symbol, result, List.of(args));
    }

    static NativeFunction versioned(String symbol, String declared, MemoryLayout result, MemoryLayout... args) {
        return new NativeFunction(symbol, declared, result, List.of(args));
    }

    static Map<String, NativeFunction> table(NativeFunction... fs) {
        Map<String, NativeFunction> m = new LinkedHashMap<>();
        for (NativeFunction f : fs) {
            m.put(f.declared(), f);
        }
        return Collections.unmodifiableMap(m);
    }

    /** Handles for every function of {@code table}, by declared name; fails naming the first missing symbol. */
    static Map<String, MethodHandle> bind(SymbolLookup lib, Map<String, NativeFunction> table) {
        Linker linker = Linker.nativeLinker();
        Map<String, MethodHandle> handles = new LinkedHashMap<>();
        for (NativeFunction f : table.values()) {
            handles.put(f.declared(), linker.downcallHandle(lib.findOrThrow(f.symbol()), f.descriptor()));
        }
        return handles;
    }
}
