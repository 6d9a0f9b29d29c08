package dev.kernelbridge.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 28, place 1: LWJGL hands the driver a raw address, so a caller's shared arena closed by
 * another thread during {@code copyFrom}/{@code copyTo} used to leave PoCL reading or writing freed
 * memory. In the guarded memory mode that is a SIGSEGV in the child JVM at once; the copy must instead
 * complete or throw IllegalStateException, every round.
 */
class CallerMemoryCopyTest {
    @Tag("R19")
    @Test
    void aCallersArenaClosedDuringACopyNeverLetsTheDriverTouchFreedMemory(@TempDir Path dir) throws Exception {
        OpenClTestSupport.assumeOpenCl();
        List<String> cmd = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-Dkernelbridge.debug.guarded.memory=true",
                "-XX:ErrorFile=" + dir.resolve("hs_err_%p.log"), "-XX:-CreateCoredumpOnCrash",
                "-cp", System.getProperty("java.class.path"), CallerMemoryCopyProbe.class.getName(), "40");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "the probe must end");
        try (var logs = Files.list(dir)) {
            for (Path log : logs.toList()) {
                out += "\n" + Files.readString(log).lines().limit(20).reduce("", (a, b) -> a + "\n" + b);
            }
        }
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("survived 40 rounds"), out);
    }
}
