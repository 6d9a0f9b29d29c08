package dev.kernelbridge.internal.cpu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Expands the per-primitive templates under {@code src/template} into the sources Java forces us to
 * have once per primitive type (as the JDK builds its Vector API classes). Run
 * {@code ci/generate-sources} after editing a template; {@code GeneratedSourcesTest} fails when a
 * generated file and its template disagree.
 */
public final class GeneratedSources {
    /** Each template, by its path under the source roots without ".java". */
    private static final String[] TEMPLATES = {"dev/kernelbridge/internal/cpu/PackedVectorGemm", "dev/kernelbridge/internal/cpu/SmallVectorGemm",
        "dev/kernelbridge/internal/collective/VectorSum"};

    private GeneratedSources() { }

    /** Generated file (relative to the module) and its expected text. */
    static Map<Path, String> expand(Path module) throws IOException {
        Map<Path, String> out = new LinkedHashMap<>();
        for (String name : TEMPLATES) {
            String template = Files.readString(module.resolve("src/template/" + name + ".java.template"));
            out.put(Path.of("src/main/java/" + name + "F32.java"), fill(template, "float", "Float", "Float", "F32"));
            out.put(Path.of("src/main/java/" + name + "F64.java"), fill(template, "double", "Double", "Double", "F64"));
        }
        return out;
    }

    private static String fill(String template, String type, String typeCap, String boxed, String label) {
        return template.replace("$type$", type).replace("$Type$", typeCap).replace("$Boxed$", boxed).replace("$TYPE$", label);
    }

    /** Usage: GeneratedSources [module dir, default java-api/core]. */
    public static void main(String[] args) throws IOException {
        Path module = Path.of(args.length > 0 ? args[0] : "java-api/core");
        for (Map.Entry<Path, String> e : expand(module).entrySet()) {
            Files.writeString(module.resolve(e.getKey()), e.getValue());
            System.out.println("wrote " + module.resolve(e.getKey()));
        }
    }
}
