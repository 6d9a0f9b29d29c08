package dev.kernelbridge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * RELIABILITY.md R21, the grep rule: {@code MemorySegment.reinterpret} (a restricted method that
 * makes a segment of any size at any address) appears only in modules that bind a native library —
 * native-kernels, the OpenBLAS sample backend and the benchmarks' peer bindings, and the guarded memory
 * test mode's libc binding — never elsewhere in the API, the kit or the netlib seam; and where it
 * appears, it names a size, never an unbounded one.
 */
class NativePointerHygieneTest {
    private static final List<String> BINDING_MODULES = List.of("native-kernels/", "examples/openblas-backend/", "jmh-bench/",
            // The guarded memory test mode binds libc's mmap itself (core may depend on no binding module), and its
            // probe plays a driver's raw access to freed memory in a child JVM; both with bounded sizes.
            "java-api/core/src/main/java/dev/kernelbridge/internal/GuardedArena.java",
            "java-api/core/src/test/java/dev/kernelbridge/internal/GuardedArenaProbe.java");
    private static final Pattern CALL = Pattern.compile("\\.reinterpret\\(([^)]*)\\)");

    @Tag("R21")
    @Test
    void reinterpretAppearsOnlyInBindingModulesAndAlwaysWithABoundedSize() throws IOException {
        Path root = Path.of("").toAbsolutePath();
        while (!Files.isDirectory(root.resolve("java-api")) || !Files.isRegularFile(root.resolve("pom.xml"))) {
            root = root.getParent();
            assertTrue(root != null, "the repository root is above the test's directory");
        }
        Path repo = root;
        int calls = 0;
        try (Stream<Path> files = Files.walk(repo)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java") && !p.toString().contains("/target/")).toList()) {
                String rel = repo.relativize(f).toString();
                if (rel.equals("java-api/core/src/test/java/dev/kernelbridge/NativePointerHygieneTest.java")) {
                    continue;
                }
                Matcher m = CALL.matcher(Files.readString(f));
                while (m.find()) {
                    calls++;
                    assertTrue(BINDING_MODULES.stream().anyMatch(rel::startsWith), rel + " calls reinterpret outside the binding modules");
                    String size = m.group(1).trim();
                    assertTrue(!size.isEmpty() && !size.contains("MAX_VALUE"), rel + ": reinterpret(" + size + ") has no bounded size");
                }
            }
        }
        assertTrue(calls > 0, "the rule found no reinterpret at all: the scan is not looking at the sources");
    }
}
