package dev.kernelbridge.internal.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

class GeneratedSourcesTest {
    @Test
    void everyGeneratedKernelIsItsTemplateExpanded() throws Exception {
        Path module = Path.of("").toAbsolutePath();
        for (Map.Entry<Path, String> e : GeneratedSources.expand(module).entrySet()) {
            assertEquals(e.getValue(), Files.readString(module.resolve(e.getKey())),
                    e.getKey() + " differs from its template: edit the template and run ci/generate-sources");
        }
    }
}
