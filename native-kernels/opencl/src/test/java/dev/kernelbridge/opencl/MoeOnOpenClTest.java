package dev.kernelbridge.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code kernelbridge moe} with ranks on unlike devices — the CPU backend and PoCL — run as a user runs
 * it, the CLI in a JVM of its own: router GEMMs, all-to-all between a CPU and an OpenCL rank, grouped
 * GEMMs on OpenCL buffers, and the output checked against the F64 host reference.
 */
class MoeOnOpenClTest {
    @BeforeEach
    void needOpenCl() {
        OpenClTestSupport.assumeOpenCl();
    }

    private static String moe(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-Dorg.lwjgl.system.memoryBackend=org.lwjgl.system.MemoryBackendFFM", "-cp", System.getProperty("java.class.path"),
                "dev.kernelbridge.cli.Main", "moe", "--hidden", "40", "--ffn", "24", "--iterations", "1", "--verify", "--json"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "moe must finish");
        assertEquals(0, p.exitValue(), String.join(" ", args) + ":\n" + output);
        assertTrue(output.contains("\"verified\":true"), output);
        return output;
    }

    @Test
    void aLayerOnTheCpuAndAPoclDeviceVerifiesInF32AndBf16() throws Exception {
        String f32 = moe("--devices", "cpu:0,opencl:0", "--tokens", "96", "--experts", "4");
        assertTrue(f32.contains("\"devices\":[\"cpu:0\",\"opencl:0\"]") && f32.contains("\"ranks\":2"), f32);
        String bf16 = moe("--devices", "opencl:0,cpu:0", "--tokens", "77", "--experts", "8", "--dtype", "bf16");
        assertTrue(bf16.contains("\"dtype\":\"bf16\""), bf16);
    }

    @Test
    void threeRanksOnTwoPoclDevicesAndTheCpuSplitUnevenly() throws Exception {
        boolean two = new OpenClBackendProvider().probe().available() && "pthread pthread".equals(System.getenv("POCL_DEVICES"));
        assumeTrue(two, "needs POCL_DEVICES=\"pthread pthread\" (set by this module's surefire configuration)");
        String out = moe("--devices", "opencl:0,cpu:0,opencl:1", "--tokens", "50", "--experts", "5", "--top-k", "3", "--dtype", "f64");
        assertTrue(out.contains("\"ranks\":3") && out.contains("\"experts\":5"), out);
    }
}
