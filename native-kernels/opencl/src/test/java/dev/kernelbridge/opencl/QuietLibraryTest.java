package dev.kernelbridge.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kernelbridge.Blas;
import dev.kernelbridge.KernelBridge;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A library embedded in someone else's program stays quiet: from a cold JVM with the JDK's default
 * logging (INFO and above to stderr), opening KernelBridge and running a third party's loop of mixed
 * small GEMMs prints nothing at all — no backend selection, no health verdict from JIT warm-up, no
 * LWJGL advice. And where OpenCL is missing, the CLI says so in one line with the command that adds it.
 */
class QuietLibraryTest {
    private static final String JAVA = Path.of(System.getProperty("java.home"), "bin", "java").toString();

    @Test
    void aColdLoopOfMixedSmallGemmsLogsNothingAtInfoOrAbove() throws Exception {
        OpenClTestSupport.assumeOpenCl();
        Run r = run(List.of(), EmbeddingProgram.class.getName());
        assertEquals(0, r.exit, r.stderr + r.stdout);
        assertEquals("", r.stderr, "a library must log nothing at INFO or above in its normal life");
        assertTrue(r.stdout.startsWith("ok "), r.stdout);
    }

    @Test
    void withoutAnIcdLoaderTheCliNamesTheCauseAndTheFixWithoutThirdPartyNoise() throws Exception {
        Run r = run(List.of("-Dkernelbridge.opencl.library=/nonexistent/libOpenCL.so.1"), "dev.kernelbridge.cli.Main", "devices");
        assertEquals(0, r.exit, r.stderr + r.stdout);
        assertTrue(r.stdout.contains("cpu:0"), r.stdout);
        assertTrue(r.stdout.contains("opencl: not available: no OpenCL ICD loader found (tried /nonexistent/libOpenCL.so.1"), r.stdout);
        assertTrue(r.stdout.contains("to add it: " + OpenClBackendProvider.INSTALL_HINT), r.stdout);
        assertTrue(!r.stderr.contains("LWJGL") && !r.stdout.contains("LWJGL"), r.stderr);
        assertEquals("", r.stderr);

        Run doctor = run(List.of("-Dkernelbridge.opencl.library=/nonexistent/libOpenCL.so.1"), "dev.kernelbridge.cli.Main", "doctor");
        assertTrue(doctor.stdout.contains("-> " + OpenClBackendProvider.INSTALL_HINT), "doctor agrees with devices: " + doctor.stdout);
    }

    @Test
    void theRuntimePackagesVersionedSonameIsEnough() {
        OpenClTestSupport.assumeOpenCl();
        assertEquals(List.of("libOpenCL.so.1", "libOpenCL.so"), OpenClLibrary.candidates(""));
        assertEquals(List.of("/opt/x/libOpenCL.so"), OpenClLibrary.candidates(" /opt/x/libOpenCL.so "));
        assertEquals("libOpenCL.so.1", OpenClLibrary.ensureLoaded(dev.kernelbridge.Config.fromEnvironment()));
    }

    /** The third party's program: plain netlib-style calls, no logging set up, run in a JVM of its own. */
    public static final class EmbeddingProgram {
        public static void main(String[] args) {
            SplittableRandom random = new SplittableRandom(7);
            int calls = 0;
            try (KernelBridge kb = KernelBridge.open()) {
                Blas blas = kb.blas();
                int[] sizes = {4, 8, 16, 24, 32, 48, 64, 96, 128, 160};
                for (int round = 0; round < 60; round++) {
                    for (int size : sizes) {
                        int m = size, n = size + random.nextInt(8), k = size + random.nextInt(8);
                        float[] a = new float[m * k], b = new float[k * n], c = new float[m * n];
                        double[] da = new double[m * k], db = new double[k * n], dc = new double[m * n];
                        for (int i = 0; i < a.length; i++) { a[i] = random.nextInt(5) - 2; da[i] = a[i]; }
                        for (int i = 0; i < b.length; i++) { b[i] = random.nextInt(5) - 2; db[i] = b[i]; }
                        blas.sgemm("N", "N", m, n, k, 1f, a, m, b, k, 0f, c, m);
                        blas.dgemm("T", "N", m, n, k, 1.0, da, k, db, k, 0.0, dc, m);
                        calls += 2;
                    }
                }
            }
            System.out.println("ok " + calls + " calls");
        }
    }

    private record Run(int exit, String stdout, String stderr) { }

    private static Run run(List<String> jvmFlags, String mainClass, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(JAVA, "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-Dorg.lwjgl.system.memoryBackend=org.lwjgl.system.MemoryBackendFFM"));
        cmd.addAll(jvmFlags);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), mainClass));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().keySet().removeIf(k -> k.startsWith("KERNELBRIDGE_"));
        Process p = pb.start();
        var err = java.util.concurrent.CompletableFuture.supplyAsync(() -> read(p.getErrorStream()));
        String out = read(p.getInputStream());
        assertTrue(p.waitFor(180, TimeUnit.SECONDS), "the child JVM must finish");
        // The JDK's own notice for --add-modules jdk.incubator.vector is the JVM's, printed before any of our code runs.
        String stderr = err.join().replace("WARNING: Using incubator modules: jdk.incubator.vector\n", "");
        return new Run(p.exitValue(), out, stderr);
    }

    private static String read(java.io.InputStream in) {
        try {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
