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
import example.ChildLoaderLauncher;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code -javaagent:kernelbridge-netlib.jar} as a user runs it, in child JVMs: on the class path, and
 * with every library jar on the module path. The jar is assembled here from target/classes with the
 * manifest the build gives it (tests run before packaging).
 */
class NetlibAgentTest {
    private static final String EXPECTED_C = "c=[46.0, 68.0, 62.0, 92.0]";   // 2 × A·B, column-major
    private static final String NOT_INSTALLED = "KernelBridge is not installed for dev.ludovic.netlib";
    private static Path agentJar, agentOnlyJar, launcherJar;

    @BeforeAll
    static void buildAgentJars() throws Exception {
        Path classes = Path.of(System.getProperty("kernelbridge.netlib.testClasses", "target/classes"));
        Path dir = Files.createDirectories(Path.of("target/agent-test"));
        agentJar = jar(dir.resolve("kernelbridge-netlib.jar"), classes, f -> true, true);
        // What the build's "agent" classifier holds: the transformer and its lookup, nothing that names netlib's types.
        agentOnlyJar = jar(dir.resolve("kernelbridge-netlib-agent.jar"), classes,
                f -> f.getFileName().toString().startsWith("NetlibAgent") || f.getFileName().toString().startsWith("NetlibAdapters"), true);
        Path testClasses = Path.of(ChildLoaderLauncher.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        launcherJar = jar(dir.resolve("launcher.jar"), testClasses, f -> f.getFileName().toString().equals("ChildLoaderLauncher.class"), false);
    }

    private static Path jar(Path jar, Path classes, java.util.function.Predicate<Path> include, boolean agent) throws IOException {
        Manifest mf = new Manifest();
        mf.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        if (agent) {
            mf.getMainAttributes().putValue("Premain-Class", "dev.kernelbridge.netlib.NetlibAgent");
            mf.getMainAttributes().putValue("Automatic-Module-Name", "dev.kernelbridge.netlib");
        }
        try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar), mf); Stream<Path> files = Files.walk(classes)) {
            for (Path f : files.filter(Files::isRegularFile).filter(include).toList()) {
                out.putNextEntry(new JarEntry(classes.relativize(f).toString().replace('\\', '/')));
                Files.copy(f, (OutputStream) out);
                out.closeEntry();
            }
        }
        return jar;
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

    @Test
    void inAChildClassLoaderTheAgentJarAloneInstallsKernelBridgeBesideNetlib() throws Exception {
        // The system class path holds the launcher and the agent; netlib, KernelBridge and the program sit in the child.
        String out = run(List.of("-javaagent:" + agentOnlyJar, "-cp", launcherJar.toString(),
                "example.ChildLoaderLauncher", System.getProperty("java.class.path"), "example.AgentProbe"));
        assertTrue(out.contains("blas=dev.kernelbridge.netlib.LudovicBLAS native=dev.kernelbridge.netlib.LudovicBLAS"), out);
        assertTrue(out.contains("kernelbridgeDgemm=2 " + EXPECTED_C), out);
        assertTrue(!out.contains(NOT_INSTALLED), out);
    }

    @Test
    void inAChildClassLoaderTheFullJarAsAgentStepsAsideWithOneWarning() throws Exception {
        // The full jar on the system class path would define LudovicBLAS where netlib's interfaces are invisible:
        // the factories must return what they return without the agent, and say once how to install it.
        String cp = System.getProperty("java.class.path");
        String stock = probeLine(run(List.of("-cp", launcherJar.toString(), "example.ChildLoaderLauncher", cp, "example.AgentProbe")));
        String out = run(List.of("-javaagent:" + agentJar, "-cp", launcherJar.toString(), "example.ChildLoaderLauncher", cp, "example.AgentProbe"));
        assertTrue(stock.contains("blas=dev.ludovic.netlib.blas.") && stock.contains(EXPECTED_C), stock);
        assertEquals(stock.replaceAll(" kernelbridgeDgemm=\\S+", ""), probeLine(out).replaceAll(" kernelbridgeDgemm=\\S+", ""), out);
        assertOneWarningNamingTheFix(out);
    }

    @Test
    void whereKernelBridgeIsNotBesideNetlibTheAgentStepsAsideWithOneWarning() throws Exception {
        List<String> withoutKernelBridge = new ArrayList<>();
        for (String e : System.getProperty("java.class.path").split(java.io.File.pathSeparator)) {
            if (!isKernelBridge(e)) {
                withoutKernelBridge.add(e);
            }
        }
        String out = run(List.of("-javaagent:" + agentOnlyJar, "-cp", launcherJar.toString(), "example.ChildLoaderLauncher",
                String.join(java.io.File.pathSeparator, withoutKernelBridge), "example.AgentProbe"));
        assertTrue(probeLine(out).contains("blas=dev.ludovic.netlib.blas.") && out.contains("kernelbridgeDgemm=absent " + EXPECTED_C), out);
        assertOneWarningNamingTheFix(out);
    }

    @Test
    void whereNoBackendIsBesideNetlibTheAgentStepsAsideWithOneWarning() throws Exception {
        // The adapter and the API are there, but no backend: the first GEMM could not open a bridge.
        List<String> withoutBackend = new ArrayList<>();
        for (String e : System.getProperty("java.class.path").split(java.io.File.pathSeparator)) {
            if (!e.contains("kernelbridge-cpu") && !e.contains("java-api/cpu")) {
                withoutBackend.add(e);
            }
        }
        String out = run(List.of("-javaagent:" + agentOnlyJar, "-cp", launcherJar.toString(), "example.ChildLoaderLauncher",
                String.join(java.io.File.pathSeparator, withoutBackend), "example.AgentProbe"));
        assertTrue(probeLine(out).contains("blas=dev.ludovic.netlib.blas.") && out.contains("kernelbridgeDgemm=0 " + EXPECTED_C), out);
        assertTrue(out.contains("no KernelBridge backend beside it"), out);
        assertOneWarningNamingTheFix(out);
    }

    private static boolean isKernelBridge(String classPathEntry) {
        return classPathEntry.contains("kernelbridge-api") || classPathEntry.contains("java-api/core")
                || classPathEntry.equals(System.getProperty("kernelbridge.netlib.testClasses"));
    }

    private static void assertOneWarningNamingTheFix(String out) {
        assertEquals(1, out.split(NOT_INSTALLED, -1).length - 1, "one warning: " + out);
        assertTrue(out.contains("kernelbridge-netlib-<version>-agent.jar") && out.contains("same class loader as dev.ludovic.netlib"), out);
    }

    private static String probeLine(String out) {
        return out.lines().filter(l -> l.startsWith("blas=")).findFirst().orElseThrow(() -> new AssertionError("no probe line: " + out));
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
