package dev.kernelbridge.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The user-facing proof of failover: {@code kernelbridge demo --chaos} with the CPU and two PoCL devices
 * must end with every result correct, after failovers, a caught corruption and a missed deadline.
 * Run as a user runs it: the CLI in a JVM of its own.
 */
class ChaosDemoTest {
    @Test
    void chaosDemoRoutesAroundTheFaultyDeviceWithEveryResultCorrect() throws Exception {
        boolean required = Boolean.getBoolean("kernelbridge.test.requireOpenCl");
        boolean available = new OpenClBackendProvider().probe().available();
        assertTrue(available || !required, "ci/test installed PoCL but OpenCL is unavailable");
        assumeTrue(available, "needs OpenCL devices (PoCL)");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(List.of(java, "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-Dorg.lwjgl.system.memoryBackend=org.lwjgl.system.MemoryBackendFFM", "-cp", System.getProperty("java.class.path"),
                "dev.kernelbridge.cli.Main", "demo", "--chaos", "--calls", "40", "--size", "128", "--json"))
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String json = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "demo --chaos must finish");
        assertEquals(0, p.exitValue(), json);
        assertTrue(json.contains("\"correct\":40"), json);
        assertTrue(json.matches("(?s).*\"failovers\":([1-9][0-9]*).*"), json);
        assertTrue(json.contains("\"canaryMismatches\":1"), json);
        assertTrue(json.contains("DEADLINE_EXCEEDED"), "the injected hang must show as a missed deadline: " + json);
        assertTrue(json.contains("\"to\":\"HEALTHY\""), "the device must come back after its probe: " + json);
    }
}
