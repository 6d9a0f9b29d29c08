package dev.kernelbridge.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every function of {@link CudaDriver#FUNCTIONS} against its prototype in the installed cuda.h: the
 * symbol is the one cuda.h maps the declared name to (the versioned entry point), and each argument
 * has the layout its C type has on LP64. Types are resolved through the header's own typedefs.
 */
class CudaHeaderTest {
    private static String header;
    private static final Map<String, MemoryLayout> typedefs = new HashMap<>();

    @BeforeAll
    static void readHeader() throws IOException {
        Path h = CudaToolkit.header("cuda.h");
        if (CudaToolkit.required()) {
            assertTrue(Files.isRegularFile(h), "ci/test expects the CUDA toolkit's cuda.h at " + h);
        }
        assumeTrue(Files.isRegularFile(h), "cuda.h not found at " + h + " (set CUDA_HOME)");
        header = Files.readString(h).replaceAll("/\\*.*?\\*/", " ").replaceAll("//[^\n]*", " ");
        // enums and opaque pointer handles first, then plain typedefs, first definition wins (LP64 comes first)
        for (Matcher m = Pattern.compile("typedef\\s+enum\\s+\\w*\\s*\\{[^}]*\\}\\s*(\\w+)\\s*;").matcher(header); m.find(); ) {
            typedefs.putIfAbsent(m.group(1), ValueLayout.JAVA_INT);
        }
        for (Matcher m = Pattern.compile("typedef\\s+struct\\s+\\w+\\s*\\*\\s*(\\w+)\\s*;").matcher(header); m.find(); ) {
            typedefs.putIfAbsent(m.group(1), ValueLayout.ADDRESS);
        }
        for (Matcher m = Pattern.compile("typedef\\s+([\\w ]+?)\\s+(\\w+)\\s*;").matcher(header); m.find(); ) {
            MemoryLayout l = primitive(m.group(1).trim());
            if (l == null && typedefs.containsKey(m.group(1).trim())) {
                l = typedefs.get(m.group(1).trim());
            }
            if (l != null) {
                typedefs.putIfAbsent(m.group(2), l);
            }
        }
    }

    private static MemoryLayout primitive(String c) {
        return switch (c.replace("const ", "").trim()) {
            case "int", "unsigned int", "unsigned", "CUresult" -> ValueLayout.JAVA_INT;
            // a char argument travels in a 32-bit register on x86-64 and AArch64
            case "unsigned char", "char" -> ValueLayout.JAVA_INT;
            case "size_t", "unsigned long long", "long long", "unsigned long", "long" -> ValueLayout.JAVA_LONG;
            case "float" -> ValueLayout.JAVA_FLOAT;
            default -> null;
        };
    }

    @Test
    void everyBoundFunctionMatchesItsPrototypeInCudaH() {
        List<String> problems = new ArrayList<>();
        for (CudaDriver.Function f : CudaDriver.FUNCTIONS.values()) {
            String mapped = mappedSymbol(f.declared());
            if (!mapped.equals(f.symbol())) {
                problems.add(f.declared() + ": cuda.h maps it to " + mapped + ", the binding uses " + f.symbol());
                continue;
            }
            Matcher m = Pattern.compile("CUresult\\s+CUDAAPI\\s+" + Pattern.quote(f.declared()) + "\\s*\\(([^;]*?)\\)\\s*;").matcher(header);
            if (!m.find()) {
                problems.add(f.declared() + ": no prototype in cuda.h");
                continue;
            }
            List<MemoryLayout> want = new ArrayList<>();
            String params = m.group(1).trim();
            if (!params.isEmpty() && !params.equals("void")) {
                for (String p : params.split(",")) {
                    want.add(layoutOf(p.trim(), f.declared()));
                }
            }
            if (!want.equals(f.args())) {
                problems.add(f.declared() + "(" + params.replaceAll("\\s+", " ") + "): cuda.h gives " + names(want) + ", the binding has " + names(f.args()));
            }
        }
        if (!problems.isEmpty()) {
            fail(problems.size() + " binding(s) disagree with cuda.h:\n" + String.join("\n", problems));
        }
        assertEquals(CudaDriver.FUNCTIONS.size(), CudaDriver.FUNCTIONS.values().stream().map(CudaDriver.Function::symbol).distinct().count());
    }

    @Test
    void theCheckerItselfRejectsAWrongBinding() {
        // the checker's own check: a descriptor with one argument too few or of the wrong type must not pass
        Matcher m = Pattern.compile("CUresult\\s+CUDAAPI\\s+cuMemAlloc\\s*\\(([^;]*?)\\)\\s*;").matcher(header);
        assertTrue(m.find());
        List<MemoryLayout> want = new ArrayList<>();
        for (String p : m.group(1).split(",")) {
            want.add(layoutOf(p.trim(), "cuMemAlloc"));
        }
        assertEquals(List.of(ValueLayout.ADDRESS, ValueLayout.JAVA_LONG), want);
        assertTrue(!want.equals(List.of(ValueLayout.ADDRESS, ValueLayout.JAVA_INT)), "a 32-bit size must be caught");
        assertEquals("cuMemAlloc_v2", mappedSymbol("cuMemAlloc"));
    }

    /** What cuda.h's #define makes of a name: cuMemAlloc → cuMemAlloc_v2, cuMemcpyHtoD → cuMemcpyHtoD_v2. */
    private static String mappedSymbol(String declared) {
        Matcher d = Pattern.compile("#define\\s+" + Pattern.quote(declared) + "\\s+(?:__CUDA_API_PTDS\\(|__CUDA_API_PTSZ\\()?(\\w+)\\)?\\s").matcher(header);
        return d.find() ? d.group(1) : declared;
    }

    private static MemoryLayout layoutOf(String param, String function) {
        if (param.contains("*") || param.contains("[")) {
            return ValueLayout.ADDRESS;
        }
        String[] words = param.replace("const", " ").trim().split("\\s+");
        String type = String.join(" ", java.util.Arrays.copyOf(words, words.length - 1)).trim();
        MemoryLayout l = primitive(type);
        if (l == null) {
            l = typedefs.get(type);
        }
        if (l == null) {
            throw new AssertionError(function + ": cannot resolve the C type '" + type + "' of '" + param + "' through cuda.h");
        }
        return l;
    }

    private static String names(List<MemoryLayout> ls) {
        return ls.stream().map(l -> l == ValueLayout.ADDRESS ? "ptr" : l == ValueLayout.JAVA_INT ? "int" : l == ValueLayout.JAVA_LONG ? "long" : l.toString()).toList().toString();
    }
}
