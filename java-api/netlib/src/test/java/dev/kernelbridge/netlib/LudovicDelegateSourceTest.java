package dev.kernelbridge.netlib;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import org.junit.jupiter.api.Test;

/** The generated delegate matches the dev.ludovic.netlib interface this module builds against. */
class LudovicDelegateSourceTest {
    @Test
    void generatedDelegateIsCurrent() throws Exception {
        if (Boolean.getBoolean("kernelbridge.regenerate")) {
            Files.writeString(LudovicDelegateSource.FILE, LudovicDelegateSource.render());
        }
        assertEquals(LudovicDelegateSource.render(), Files.readString(LudovicDelegateSource.FILE),
                "src/generated/java/.../LudovicDelegate.java is stale: run ci/generate-sources");
    }
}
