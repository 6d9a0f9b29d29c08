package dev.kernelbridge;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** kernelbridge-api alone (as this module's tests have it: no backend inside): open() names the artifact to add. */
class OpenWithoutBackendTest {
    @Test
    void openingWithNoBackendNamesTheArtifactToAdd() {
        IllegalStateException e = assertThrows(IllegalStateException.class, KernelBridge::open);
        assertTrue(e.getMessage().contains("no KernelBridge backend is on the class path")
                && e.getMessage().contains("dev.kernelbridge:kernelbridge-cpu"), e.getMessage());
    }
}
