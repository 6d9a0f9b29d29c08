package dev.kernelbridge.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kernelbridge.opencl.OpenClBackendProvider;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * The user-facing proof of failover: {@code kernelbridge demo --chaos} with the CPU and two PoCL devices
 * must end with every result correct, after failovers, a caught corruption and a missed deadline.
 */
class ChaosDemoTest {
    @Test
    void chaosDemoRoutesAroundTheFaultyDeviceWithEveryResultCorrect() {
        boolean required = Boolean.getBoolean("kernelbridge.test.requireOpenCl");
        boolean available = new OpenClBackendProvider().probe().available();
        assertTrue(available || !required, "ci/test installed PoCL but OpenCL is unavailable");
        assumeTrue(available, "needs OpenCL devices (PoCL)");
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int code = Main.run(new String[] {"demo", "--chaos", "--calls", "20", "--size", "128", "--json"},
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        String json = out.toString(StandardCharsets.UTF_8);
        assertEquals(0, code, json + err.toString(StandardCharsets.UTF_8));
        assertTrue(json.contains("\"correct\":20"), json);
        assertTrue(json.matches("(?s).*\"failovers\":([1-9][0-9]*).*"), json);
        assertTrue(json.contains("\"canaryMismatches\":1"), json);
        assertTrue(json.contains("DEADLINE_EXCEEDED"), "the injected hang must show as a missed deadline: " + json);
        assertTrue(json.contains("\"to\":\"HEALTHY\""), "the device must come back after its probe: " + json);
    }
}
