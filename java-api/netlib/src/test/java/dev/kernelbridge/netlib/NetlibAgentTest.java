package dev.kernelbridge.netlib;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code -javaagent:kernelbridge-netlib.jar} as a user runs it, in child JVMs: on the class path, and
 * with every library jar on the module path. The jar is assembled here from target/classes with the
 * manifest the build gives it (tests run before packaging).
 */
class NetlibAgentTest {
    private static final String EXPECTED_C = "c=[46.0, 68.0, 62.0, 92.0]";   // 2 × A·B, column-major
    private static Path agentJar;

    @BeforeAll
    static void buildAgentJar() throws IOException {
        Path classes = Path.of(System.getProperty("kernelbridge.netlib.testClasses", "target/classes"));
        agentJar = Files.createDirectories(Path.of("target/agent-test")).resolve("kernelbridge-netlib.jar");
        Manifest mf = new Manifest();
        mf.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        mf.getMainAttributes().putValue("Premain-Class", "dev.kernelbridge.netlib.NetlibAgent");
        mf.getMainAttributes().putValue("Automatic-Module-Name", "dev.kernelbridge.netlib");
        try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(agentJar), mf); Stream<Path> files = Files.walk(classes)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                out.putNextEntry(new JarEntry(classes.relativize(f).toString().replace('\\', '/')));
                Files.copy(f, (OutputStream) out);
                out.closeEntry();
            }
        }
    }

    @Test
    void onTheClassPathBothFactoriesReturnKernelBridge() throws Exception {
        String cp = agentJar + java.io.File.pathSeparator + System.getProperty("java.class.path");
        String out = run(List.of("-javaagent:" + agentJar, "-cp", cp, "example.AgentProbe"));
        assertTrue(out.contains("blas=dev.kernelbridge.netlib.LudovicBLAS native=dev.kernelbridge.netlib.LudovicBLAS"), out);
        assertTrue(!out.contains("java=dev.kernelbridge"), "JavaBLAS.getInstance() stays the library's: " + out);
        assertTrue(out.contains("kernelbridgeDgemm=2 " + EXPECTED_C), out);
    }

    @Test
    void withoutTheAgentTheLibraryIsUntouched() throws Exception {
        String out = run(List.of("-cp", System.getProperty("java.class.path"), "example.AgentProbe"));
        assertTrue(!out.contains("blas=dev.kernelbridge"), out);
    }

    @Test
    void onTheModulePathTooWithEveryJarANamedModule() throws Exception {
        // Library jars (KernelBridge's API, dev.ludovic.netlib and its f2j dependency, ours) go on the
        // module path; the probe, a user's class, stays on the class path.
        List<String> modules = new ArrayList<>(List.of(agentJar.toString()));
        List<String> classPath = new ArrayList<>();
        for (String e : System.getProperty("java.class.path").split(java.io.File.pathSeparator)) {
            if (e.contains("kernelbridge-api") || e.contains("java-api/core") || e.contains("netlib/blas") || e.contains("arpack_combined_all")) {
                modules.add(e);
            } else if (!e.equals(System.getProperty("kernelbridge.netlib.testClasses"))) {
                classPath.add(e);
            }
        }
        String out = run(List.of("-javaagent:" + agentJar,
                "--module-path", String.join(java.io.File.pathSeparator, modules),
                "--add-modules", "dev.kernelbridge.api,dev.kernelbridge.netlib,dev.ludovic.netlib.blas",
                "-cp", String.join(java.io.File.pathSeparator, classPath), "example.AgentProbe"));
        assertTrue(out.contains("blas=dev.kernelbridge.netlib.LudovicBLAS native=dev.kernelbridge.netlib.LudovicBLAS"), out);
        assertTrue(out.contains("module=dev.kernelbridge.netlib"), "LudovicBLAS came from the named module: " + out);
        assertTrue(out.contains("kernelbridgeDgemm=2 " + EXPECTED_C), out);
    }

    private static String run(List<String> args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"));
        cmd.addAll(args);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out;
        try (var in = p.getInputStream()) {
            out = new String(in.readAllBytes());
        }
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), () -> String.join(" ", cmd) + "\n" + out);
        return out.lines().filter(l -> !l.startsWith("WARNING: Using incubator")).collect(Collectors.joining("\n"));
    }
}
