package dev.kernelbridge.bench;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One benchmark run as stored in results.json, the history and the baseline: when, on what
 * (machine fingerprint: CPU, cores, JDK, OpenBLAS core and build, BLIS, the OpenCL and MPI packages,
 * git revision) and the figures.
 */
public record Results(String when, Map<String, String> machine, List<Figure> figures) {
    private static final Gson GSON = new GsonBuilder().setPrettyPrinting().serializeSpecialFloatingPointValues().create();

    public static Results read(Path file) throws IOException {
        return GSON.fromJson(Files.readString(file), Results.class);
    }

    public void write(Path file) throws IOException {
        if (file.getParent() != null) {
            Files.createDirectories(file.getParent());
        }
        Files.writeString(file, GSON.toJson(this) + "\n");
    }

    /** Debian package versions ("name=version, ..."), from dpkg's status file; "unknown" elsewhere. */
    private static String installed(String... packages) {
        try {
            List<String> lines = Files.readAllLines(Path.of("/var/lib/dpkg/status"));
            StringBuilder out = new StringBuilder();
            String pkg = null;
            for (String line : lines) {
                if (line.startsWith("Package: ")) {
                    pkg = line.substring(9).trim();
                } else if (line.startsWith("Version: ") && pkg != null && java.util.Arrays.asList(packages).contains(pkg)) {
                    out.append(out.isEmpty() ? "" : ", ").append(pkg).append('=').append(line.substring(9).trim());
                }
            }
            return out.isEmpty() ? "none" : out.toString();
        } catch (IOException | RuntimeException e) {
            return "unknown";
        }
    }

    /** The CPU's model name from /proc/cpuinfo, or "unknown". */
    public static String cpuModel() {
        try {
            return Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
                    .map(l -> l.substring(l.indexOf(':') + 1).trim()).findFirst().orElse("unknown");
        } catch (IOException | RuntimeException e) {
            return "unknown";
        }
    }

    /** What the figures were measured on. The git revision comes from -Dkernelbridge.bench.revision. */
    public static Map<String, String> fingerprint(String openBlasCore) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("cpu", cpuModel());
        m.put("cores", String.valueOf(Runtime.getRuntime().availableProcessors()));
        m.put("jdk", Runtime.version().toString());
        m.put("openblasCore", openBlasCore);
        m.put("openblas", OpenBlas.get().map(OpenBlas::config).orElse("unavailable"));
        m.put("blis", Blis.get().map(Blis::version).orElse("unavailable"));
        // Not one of Baselines.MACHINE_FIELDS: adding the peer would have orphaned every stored baseline; a
        // oneDNN whose own speed moves is caught per figure by the gate's peer check instead.
        m.put("onednn", OneDnn.get().map(OneDnn::version).orElse("unavailable"));
        m.put("libraries", installed("libpocl2", "libclblast1", "ocl-icd-libopencl1", "libopenmpi3"));
        m.put("revision", System.getProperty("kernelbridge.bench.revision", "unknown"));
        return m;
    }
}
