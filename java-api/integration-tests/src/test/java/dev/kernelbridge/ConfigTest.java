package dev.kernelbridge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kernelbridge.cpu.CpuBackendProvider;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class ConfigTest {
    @Test
    void durationsParseInEveryDocumentedForm() {
        assertEquals(Duration.ofMillis(250), Config.parseDuration("250ms", "x"));
        assertEquals(Duration.ofMillis(1500), Config.parseDuration("1.5s", "x"));
        assertEquals(Duration.ofMinutes(2), Config.parseDuration("2m", "x"));
        assertEquals(Duration.ofSeconds(30), Config.parseDuration("PT30S", "x"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Config.parseDuration("-1s", "timeout"));
        assertTrue(e.getMessage().startsWith("timeout must be a positive duration"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Config.parseDuration("soon", "timeout"));
    }

    @Test
    void overridesWinAndNamesMirrorEachOther() {
        Config c = Config.defaults();
        assertEquals("auto", c.get(Config.BACKEND));
        assertEquals("default", c.source(Config.BACKEND));
        assertEquals("KERNELBRIDGE_CPU_THREADS", Config.CPU_THREADS.environment());
        assertEquals("kernelbridge.cpu.threads", Config.CPU_THREADS.property());
        assertEquals("3", c.with(Config.CPU_THREADS, "3").get(Config.CPU_THREADS));
        assertThrows(IllegalArgumentException.class, () -> c.with(Config.CPU_THREADS, "many").getInt(Config.CPU_THREADS));
    }

    @Test
    void aRequestedBackendThatIsMissingFailsWithItsCause() {
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> KernelBridge.open(Config.defaults().with(Config.BACKEND, "opencl"), List.of(new CpuBackendProvider())));
        assertTrue(e.getMessage().contains("backend 'opencl' was requested") && e.getMessage().contains("not on the class path"), e.getMessage());
        try (KernelBridge bridge = KernelBridge.open(Config.defaults().with(Config.BACKEND, "cpu"), List.of(new CpuBackendProvider()))) {
            assertEquals("cpu:0", bridge.defaultDevice().id());
        }
    }
}
