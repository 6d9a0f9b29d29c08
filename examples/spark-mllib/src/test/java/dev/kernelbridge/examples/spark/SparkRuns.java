package dev.kernelbridge.examples.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs the example's programs in child JVMs, as a user's launcher would, and reads their RESULT lines. */
final class SparkRuns {
    /**
     * What Spark 4.1 needs on JDK 25 (the --add-opens list Spark's own launcher passes), plus what
     * KernelBridge needs (the Vector API, native access).
     */
    static final List<String> JVM_FLAGS = List.of(
            "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
            "--add-opens=java.base/java.lang=ALL-UNNAMED", "--add-opens=java.base/java.lang.invoke=ALL-UNNAMED",
            "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED", "--add-opens=java.base/java.io=ALL-UNNAMED",
            "--add-opens=java.base/java.net=ALL-UNNAMED", "--add-opens=java.base/java.nio=ALL-UNNAMED",
            "--add-opens=java.base/java.util=ALL-UNNAMED", "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
            "--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED", "--add-opens=java.base/jdk.internal.ref=ALL-UNNAMED",
            "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED", "--add-opens=java.base/sun.nio.cs=ALL-UNNAMED",
            "--add-opens=java.base/sun.util.calendar=ALL-UNNAMED",
            "-Djdk.reflect.useDirectMethodHandle=false", "-Dio.netty.tryReflectionSetAccessible=true",
            "--sun-misc-unsafe-memory-access=allow",
            // Stock means Spark's Java BLAS: keep dev.ludovic.netlib from loading a system libblas.so.3 (OpenBLAS here).
            "-Ddev.ludovic.netlib.blas.nativeLib=kernelbridge-example-no-native-blas.so");

    private SparkRuns() { }

    /** Runs {@code main} with {@code args}; with {@code kernelBridge}, under -javaagent:kernelbridge-netlib.jar. */
    static Map<String, String> run(String label, boolean kernelBridge, String main, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx6g"));
        cmd.addAll(JVM_FLAGS);
        if (kernelBridge) {
            String jar = System.getProperty("kernelbridge.netlib.jar");
            assertTrue(jar != null && Files.exists(Path.of(jar)), "kernelbridge-netlib jar not found: " + jar);
            cmd.add("-javaagent:" + jar);
        }
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), main));
        cmd.addAll(List.of(args));
        Path report = Files.createDirectories(Path.of(System.getProperty("spark.example.report", "target/spark-mllib")));
        Path log = report.resolve(label + ".log");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        // Spark resolves the host's own name in a static initialiser; a fresh container or chroot often
        // has no entry for it (UnknownHostException before any config applies). Local mode needs none.
        pb.environment().putIfAbsent("SPARK_LOCAL_IP", "127.0.0.1");
        pb.environment().putIfAbsent("SPARK_LOCAL_HOSTNAME", "localhost");
        Process p = pb.start();
        assertTrue(p.waitFor(20, TimeUnit.MINUTES), label + " did not finish");
        String out = Files.readString(log);
        assertEquals(0, p.exitValue(), () -> label + " failed (log " + log + "):\n" + tail(out));
        Map<String, String> fields = new HashMap<>();
        out.lines().filter(l -> l.startsWith("RESULT ")).forEach(l -> {
            Map<String, String> line = new HashMap<>();
            for (String kv : l.substring(7).split(" ")) {
                int eq = kv.indexOf('=');
                line.put(kv.substring(0, eq), kv.substring(eq + 1));
            }
            // Lines of a per-routine table are keyed "routine.impl.field"; a single result line by its field.
            String prefix = line.containsKey("routine") ? line.get("routine") + "." + line.get("impl") + "." : "";
            line.forEach((k, v) -> fields.put(prefix + k, v));
        });
        assertTrue(!fields.isEmpty(), () -> label + " printed no RESULT line:\n" + tail(out));
        System.out.println(label + ": " + out.lines().filter(l -> l.startsWith("RESULT ")).toList());
        return fields;
    }

    private static String tail(String s) {
        return s.length() > 8000 ? s.substring(s.length() - 8000) : s;
    }
}
