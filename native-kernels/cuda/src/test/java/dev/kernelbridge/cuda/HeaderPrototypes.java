package dev.kernelbridge.cuda;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads C prototypes out of a vendor header (comments stripped, typedefs of enums, opaque handles
 * and plain types resolved) and compares a binding table with them: symbol mapping (#define name
 * name_v2), return type and every argument's LP64 layout.
 */
final class HeaderPrototypes {
    /** Calling-convention and export macros that stand between the return type and the name. */
    private static final Set<String> MACROS = Set.of("CUDAAPI", "CUBLASAPI", "CUBLASWINAPI", "NCCL_API", "DECLDIR", "extern");

    private final String text;
    private final Map<String, MemoryLayout> typedefs = new HashMap<>();

    HeaderPrototypes(String header) {
        text = header.replaceAll("/\\*.*?\\*/", " ").replaceAll("//[^\n]*", " ")
                // newer nvml.h marks old entry points DEPRECATED(version) before the return type: an attribute, not a type
                .replaceAll("\\bDEPRECATED\\s*\\([^)]*\\)", " ");
        // enums and opaque pointer handles first, then plain typedefs; the first definition wins (LP64 comes first)
        for (Matcher m = Pattern.compile("typedef\\s+enum\\s+\\w*\\s*\\{[^}]*\\}\\s*(\\w+)\\s*;").matcher(text); m.find(); ) {
            typedefs.putIfAbsent(m.group(1), ValueLayout.JAVA_INT);
        }
        for (Matcher m = Pattern.compile("typedef\\s+struct\\s+\\w+\\s*\\*\\s*(\\w+)\\s*;").matcher(text); m.find(); ) {
            typedefs.putIfAbsent(m.group(1), ValueLayout.ADDRESS);
        }
        // structs of one char array (ncclUniqueId): passed by value as that many bytes
        for (Matcher m = Pattern.compile("typedef\\s+struct\\s*\\w*\\s*\\{\\s*char\\s+\\w+\\s*\\[\\s*(\\w+)\\s*\\]\\s*;\\s*\\}\\s*(\\w+)\\s*;").matcher(text); m.find(); ) {
            typedefs.putIfAbsent(m.group(2), java.lang.foreign.MemoryLayout.structLayout(
                    java.lang.foreign.MemoryLayout.sequenceLayout(constant(m.group(1)), ValueLayout.JAVA_BYTE)));
        }
        for (Matcher m = Pattern.compile("typedef\\s+([\\w ]+?)\\s+(\\w+)\\s*;").matcher(text); m.find(); ) {
            MemoryLayout l = primitive(m.group(1).trim());
            if (l == null && typedefs.containsKey(m.group(1).trim())) {
                l = typedefs.get(m.group(1).trim());
            }
            if (l != null) {
                typedefs.putIfAbsent(m.group(2), l);
            }
        }
    }

    /** A number, or the value of a #define naming one. */
    private long constant(String token) {
        if (token.matches("\\d+")) {
            return Long.parseLong(token);
        }
        Matcher d = Pattern.compile("#define\\s+" + Pattern.quote(token) + "\\s+(\\d+)").matcher(text);
        if (!d.find()) {
            throw new AssertionError("cannot resolve the array size " + token);
        }
        return Long.parseLong(d.group(1));
    }

    static MemoryLayout primitive(String c) {
        return switch (c.replace("const ", "").trim()) {
            case "int", "unsigned int", "unsigned", "CUresult" -> ValueLayout.JAVA_INT;
            // a char argument travels in a 32-bit register on x86-64 and AArch64
            case "unsigned char", "char" -> ValueLayout.JAVA_INT;
            case "size_t", "unsigned long long", "long long", "unsigned long long int", "long long int", "unsigned long", "long",
                 "long int", "int64_t", "uint64_t" -> ValueLayout.JAVA_LONG;
            case "float" -> ValueLayout.JAVA_FLOAT;
            case "double" -> ValueLayout.JAVA_DOUBLE;
            default -> null;
        };
    }

    /** What the header's #define makes of a name: cuMemAlloc → cuMemAlloc_v2; the name itself otherwise. */
    String mappedSymbol(String declared) {
        Matcher d = Pattern.compile("#define\\s+" + Pattern.quote(declared) + "\\s+(?:__CUDA_API_PTDS\\(|__CUDA_API_PTSZ\\()?(\\w+)\\)?\\s").matcher(text);
        return d.find() ? d.group(1) : declared;
    }

    /** Every disagreement between {@code table} and the prototypes, one line each; empty when all agree. */
    List<String> check(Map<String, NativeFunction> table) {
        List<String> problems = new ArrayList<>();
        for (NativeFunction f : table.values()) {
            String mapped = mappedSymbol(f.declared());
            if (!mapped.equals(f.symbol())) {
                problems.add(f.declared() + ": the header maps it to " + mapped + ", the binding uses " + f.symbol());
                continue;
            }
            Matcher m = prototype(f.declared());
            if (!m.find()) {
                problems.add(f.declared() + ": no prototype in the header");
                continue;
            }
            MemoryLayout result = returnLayout(m.group(1), f.declared());
            List<MemoryLayout> want = new ArrayList<>();
            String params = m.group(2).trim();
            if (!params.isEmpty() && !params.equals("void")) {
                for (String p : params.split(",")) {
                    want.add(layoutOf(p.trim(), f.declared()));
                }
            }
            if (!want.equals(f.args()) || !java.util.Objects.equals(result, f.result())) {
                problems.add(f.declared() + "(" + params.replaceAll("\\s+", " ") + "): the header gives " + names(result, want)
                        + ", the binding has " + names(f.result(), f.args()));
            }
        }
        return problems;
    }

    /** The argument layouts of one prototype, for the checker's own check. */
    List<MemoryLayout> arguments(String declared) {
        Matcher m = prototype(declared);
        if (!m.find()) {
            throw new AssertionError("no prototype of " + declared);
        }
        List<MemoryLayout> out = new ArrayList<>();
        for (String p : m.group(2).split(",")) {
            out.add(layoutOf(p.trim(), declared));
        }
        return out;
    }

    /** A declaration at the start of a line: return type words (macros included), the name, the parameter list. */
    private Matcher prototype(String declared) {
        return Pattern.compile("(?m)^[ \\t]*((?:\\w+[ \\t\\*]+)+?)" + Pattern.quote(declared) + "\\s*\\(([^;]*?)\\)\\s*;").matcher(text);
    }

    /** The value of an enumerator (CUDA_ERROR_ILLEGAL_ADDRESS = 700). */
    int enumValue(String name) {
        Matcher m = Pattern.compile("\\b" + Pattern.quote(name) + "\\s*=\\s*(0x[0-9a-fA-F]+|\\d+)").matcher(text);
        if (!m.find()) {
            throw new AssertionError("no enumerator " + name + " in the header");
        }
        return Integer.decode(m.group(1));
    }

    /**
     * The value of a numeric #define (nvmlEventTypeXidCriticalError 0x...08LL), following a #define that
     * names another (newer nvml.h spells nvmlClocksThrottleReasonGpuIdle as nvmlClocksEventReasonGpuIdle).
     */
    long defineValue(String name) {
        for (int hops = 0; hops < 4; hops++) {
            Matcher m = Pattern.compile("(?m)^[ \\t]*#[ \\t]*define[ \\t]+" + Pattern.quote(name)
                    + "[ \\t]+\\(?[ \\t]*(0x[0-9a-fA-F]+|\\d+|[A-Za-z_]\\w*)[uUlL]*[ \\t]*\\)?[ \\t]*$").matcher(text);
            if (!m.find()) {
                throw new AssertionError("no numeric #define " + name + " in the header");
            }
            String v = m.group(1);
            if (Character.isDigit(v.charAt(0))) {
                return Long.decode(v);
            }
            name = v;
        }
        throw new AssertionError("#define " + name + ": too many names in a row");
    }

    /** True when the header declares {@code function}. */
    boolean declares(String function) {
        return prototype(function).find();
    }

    private MemoryLayout returnLayout(String before, String function) {
        if (before.contains("*")) {
            return ValueLayout.ADDRESS;
        }
        List<String> words = new ArrayList<>(Arrays.asList(before.trim().split("\\s+")));
        words.removeIf(MACROS::contains);
        String type = words.isEmpty() ? "" : words.getLast();
        if (type.equals("void")) {
            return null;
        }
        if (type.endsWith("*")) {
            return ValueLayout.ADDRESS;
        }
        MemoryLayout l = primitive(type);
        if (l == null) {
            l = typedefs.get(type);
        }
        if (l == null) {
            throw new AssertionError(function + ": cannot resolve the return type '" + type + "'");
        }
        return l;
    }

    private MemoryLayout layoutOf(String param, String function) {
        if (param.contains("*") || param.contains("[")) {
            return ValueLayout.ADDRESS;
        }
        String[] words = param.replace("const", " ").trim().split("\\s+");
        String type = String.join(" ", Arrays.copyOf(words, Math.max(1, words.length - 1))).trim();
        MemoryLayout l = primitive(type);
        if (l == null) {
            l = typedefs.get(type);
        }
        if (l == null) {
            throw new AssertionError(function + ": cannot resolve the C type '" + type + "' of '" + param + "'");
        }
        return l;
    }

    private static String names(MemoryLayout result, List<MemoryLayout> ls) {
        return name(result) + " " + ls.stream().map(HeaderPrototypes::name).toList();
    }

    private static String name(MemoryLayout l) {
        return l == null ? "void" : l == ValueLayout.ADDRESS ? "ptr" : l == ValueLayout.JAVA_INT ? "int" : l == ValueLayout.JAVA_LONG ? "long"
                : l == ValueLayout.JAVA_DOUBLE ? "double" : l == ValueLayout.JAVA_FLOAT ? "float" : l.toString();
    }
}
