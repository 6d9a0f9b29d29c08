package dev.kernelbridge.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The guard allocator (issue 28's test mode): memory is usable, zeroed and aligned while its arena
 * lives; afterwards, or one byte past its end, a raw access — as a driver or MPI would make — kills
 * the process at once (checked in child JVMs, so the crash is this test's verdict, not the suite's end).
 */
class GuardedArenaTest {
    @Test
    void allocationsAreZeroedAlignedAndEndAtTheirGuardPage() {
        try (Arena arena = new GuardedArena()) {
            MemorySegment exact = arena.allocate(2 * 4096 + 3, 1);
            assertEquals(0, (exact.address() + exact.byteSize()) % 4096, "an unaligned allocation ends where the guard page begins");
            for (long i = 0; i < exact.byteSize(); i++) {
                assertEquals(0, exact.get(ValueLayout.JAVA_BYTE, i));
            }
            exact.fill((byte) 9);
            MemorySegment aligned = arena.allocate(100, 64);
            assertEquals(0, aligned.address() % 64);
            assertTrue(4096 - (aligned.address() + 100) % 4096 < 64 || (aligned.address() + 100) % 4096 == 0, "as close to the guard as 64-byte alignment allows");
            MemorySegment empty = arena.allocate(0, 8);
            assertEquals(0, empty.byteSize());
            assertThrows(IllegalArgumentException.class, () -> arena.allocate(8, 3));
        }
    }

    @Test
    void aClosedArenaRefusesJavaAccessAndASecondClose() {
        Arena arena = new GuardedArena();
        MemorySegment s = arena.allocate(64, 8);
        arena.close();
        assertThrows(IllegalStateException.class, () -> s.get(ValueLayout.JAVA_BYTE, 0));
        assertThrows(IllegalStateException.class, arena::close);
        assertThrows(IllegalStateException.class, () -> arena.allocate(8, 8));
    }

    @Test
    void aRawWriteAfterFreeKillsTheProcessAtOnce(@TempDir Path dir) throws Exception {
        String out = probe(dir, "after-close");
        assertTrue(out.contains("guarded=true"), out);
        assertTrue(!out.contains("SURVIVED") && out.contains("SIGSEGV"), out);
    }

    @Test
    void aRawWritePastTheEndKillsTheProcessAtOnce(@TempDir Path dir) throws Exception {
        String out = probe(dir, "past-end");
        assertTrue(!out.contains("SURVIVED") && out.contains("SIGSEGV"), out);
    }

    private static String probe(Path dir, String mode) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-Dkernelbridge.debug.guarded.memory=true",
                "-XX:ErrorFile=" + dir.resolve("hs_err_%p.log"), "-XX:-CreateCoredumpOnCrash",
                "-cp", System.getProperty("java.class.path"), GuardedArenaProbe.class.getName(), mode));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the probe must end");
        assertNotEquals(0, p.exitValue(), out);
        try (var logs = Files.list(dir)) {
            for (Path log : logs.toList()) {
                out += "\n" + Files.readString(log).lines().limit(12).reduce("", (a, b) -> a + "\n" + b);
            }
        }
        return out;
    }
}
