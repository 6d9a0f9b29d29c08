import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Expands each module's per-primitive templates ({@code src/template/**.java.template}) into the
 * sources Java forces us to have once per primitive type ({@code NameF32.java}, {@code NameF64.java}
 * in {@code src/main/java}), as the JDK builds its Vector API classes.
 *
 * <pre>
 *   java ci/lib/GeneratedSources.java MODULE...          rewrites the generated files (ci/generate-sources)
 *   java ci/lib/GeneratedSources.java --check MODULE...  exits 1 naming each file that differs from its template
 * </pre>
 * GeneratedSourcesTest (java-api/core) runs the check over every module, so a hand edit of a generated file fails the build.
 */
public final class GeneratedSources {
    private GeneratedSources() { }

    /** Generated file (relative to the module) and its expected text, for every template of the module. */
    static Map<Path, String> expand(Path module) throws IOException {
        Map<Path, String> out = new LinkedHashMap<>();
        Path root = module.resolve("src/template");
        List<Path> templates;
        try (Stream<Path> files = Files.walk(root)) {
            templates = files.filter(f -> f.toString().endsWith(".java.template")).sorted().toList();
        }
        for (Path t : templates) {
            String name = root.relativize(t).toString().replace('\\', '/').replace(".java.template", "");
            String template = Files.readString(t);
            out.put(Path.of("src/main/java/" + name + "F32.java"), fill(template, "float", "Float", "F32"));
            out.put(Path.of("src/main/java/" + name + "F64.java"), fill(template, "double", "Double", "F64"));
        }
        return out;
    }

    private static String fill(String template, String type, String typeCap, String label) {
        return template.replace("$type$", type).replace("$Type$", typeCap).replace("$Boxed$", typeCap).replace("$TYPE$", label);
    }

    public static void main(String[] args) throws IOException {
        boolean check = args.length > 0 && args[0].equals("--check");
        int stale = 0;
        for (String dir : check ? List.of(args).subList(1, args.length) : List.of(args)) {
            Path module = Path.of(dir);
            for (Map.Entry<Path, String> e : expand(module).entrySet()) {
                Path file = module.resolve(e.getKey());
                if (!check) {
                    Files.writeString(file, e.getValue());
                    System.out.println("wrote " + file);
                } else if (!Files.exists(file) || !Files.readString(file).equals(e.getValue())) {
                    System.out.println(file + " differs from its template: edit the template and run ci/generate-sources");
                    stale++;
                }
            }
        }
        System.exit(stale == 0 ? 0 : 1);
    }
}
