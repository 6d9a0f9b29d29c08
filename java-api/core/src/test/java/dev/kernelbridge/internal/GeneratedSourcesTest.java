package dev.kernelbridge.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** Every per-primitive source in the repository is its template expanded (ci/lib/GeneratedSources.java --check). */
class GeneratedSourcesTest {
    @Test
    void everyGeneratedSourceIsItsTemplateExpanded() throws Exception {
        Path root = Path.of("").toAbsolutePath();
        while (!Files.isRegularFile(root.resolve("ci/lib/GeneratedSources.java"))) {
            root = root.getParent();
        }
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                root.resolve("ci/lib/GeneratedSources.java").toString(), "--check"));
        try (Stream<Path> modules = Files.list(root.resolve("java-api"))) {
            modules.filter(m -> Files.isDirectory(m.resolve("src/template"))).sorted().forEach(m -> cmd.add(m.toString()));
        }
        assertTrue(cmd.size() > 3, "no module with templates found under " + root.resolve("java-api"));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
    }
}
