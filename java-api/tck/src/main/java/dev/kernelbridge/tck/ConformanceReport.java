package dev.kernelbridge.tck;

import org.junit.jupiter.api.Tag;

import dev.kernelbridge.DType;
import dev.kernelbridge.Device;
import dev.kernelbridge.spi.BackendProvider;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.TestWatcher;

/**
 * The kit's verdict, machine-readable: counts per area (passed, failed, skipped with reasons),
 * the backend, its devices, the SPI version and the reference throughput. Written after the kit's
 * tests to {@code <dir>/<backend>.json} and {@code <dir>/<backend>.md}, where dir is the system
 * property {@code kernelbridge.tck.reportDir} or {@code target/kernelbridge-conformance}.
 */
public final class ConformanceReport implements TestWatcher, AfterAllCallback {
    private record Outcome(String area, String test, String result, String reason) { }

    private final List<Outcome> outcomes = new ArrayList<>();

    @Override
    public void testSuccessful(ExtensionContext context) {
        record(context, "passed", null);
    }

    @Override
    public void testFailed(ExtensionContext context, Throwable cause) {
        record(context, "failed", String.valueOf(cause.getMessage()));
    }

    @Override
    public void testAborted(ExtensionContext context, Throwable cause) {
        record(context, "skipped", String.valueOf(cause.getMessage()));
    }

    @Override
    public void testDisabled(ExtensionContext context, Optional<String> reason) {
        record(context, "skipped", reason.orElse("disabled"));
    }

    private synchronized void record(ExtensionContext context, String result, String reason) {
        String area = context.getTags().stream().filter(t -> !t.matches("R\\d\\d")).sorted().findFirst().orElse("other"); // R01…R40 name cases, not areas
        outcomes.add(new Outcome(area, context.getDisplayName().equals(context.getRequiredTestMethod().getName() + "()")
                ? context.getRequiredTestMethod().getName()
                : context.getRequiredTestMethod().getName() + " " + context.getDisplayName(), result, reason));
    }

    @Override
    public synchronized void afterAll(ExtensionContext context) throws IOException {
        if (!(context.getTestInstance().orElse(null) instanceof ConformanceKit kit)) {
            return;
        }
        if (kit.backendDevices() == null) {
            return; // the backend was unavailable: every case was skipped with its cause, there is no verdict to write
        }
        BackendProvider provider = kit.provider();
        Map<String, int[]> areas = new TreeMap<>();
        for (Outcome o : outcomes) {
            int[] c = areas.computeIfAbsent(o.area(), k -> new int[3]);
            c[o.result().equals("passed") ? 0 : o.result().equals("failed") ? 1 : 2]++;
        }
        boolean conforms = areas.values().stream().allMatch(c -> c[1] == 0);
        Path dir = Path.of(System.getProperty("kernelbridge.tck.reportDir", "target/kernelbridge-conformance"));
        Files.createDirectories(dir);
        String name = kit.reportName();
        Files.writeString(dir.resolve(name + ".json"), json(kit, provider, areas, conforms));
        Files.writeString(dir.resolve(name + ".md"), markdown(kit, provider, areas, conforms));
    }

    private String json(ConformanceKit kit, BackendProvider provider, Map<String, int[]> areas, boolean conforms) {
        StringBuilder j = new StringBuilder("{");
        j.append("\"backend\":").append(q(provider.name()));
        j.append(",\"provider\":").append(q(provider.getClass().getName()));
        j.append(",\"spiVersion\":").append(provider.spiVersion());
        j.append(",\"when\":").append(q(Instant.now().toString()));
        j.append(",\"conforms\":").append(conforms);
        j.append(",\"devices\":[");
        List<String> ds = new ArrayList<>();
        for (Device d : kit.backendDevices()) {
            ds.add("{\"id\":" + q(d.id()) + ",\"name\":" + q(d.name()) + ",\"vendor\":" + q(d.vendor()) + ",\"memoryBytes\":" + d.memoryBytes()
                    + ",\"dtypes\":[" + String.join(",", d.dtypes().stream().map(DType::label).sorted().map(ConformanceReport::q).toList()) + "]}");
        }
        j.append(String.join(",", ds)).append("],\"deviceUnderTest\":").append(q(kit.deviceId()));
        j.append(",\"areas\":{");
        List<String> as = new ArrayList<>();
        areas.forEach((area, c) -> as.add(q(area) + ":{\"passed\":" + c[0] + ",\"failed\":" + c[1] + ",\"skipped\":" + c[2] + "}"));
        j.append(String.join(",", as)).append("},\"skipped\":[");
        j.append(String.join(",", outcomes.stream().filter(o -> !o.result().equals("passed"))
                .map(o -> "{\"area\":" + q(o.area()) + ",\"test\":" + q(o.test()) + ",\"result\":" + q(o.result()) + ",\"reason\":" + q(o.reason()) + "}")
                .toList()));
        j.append("],\"figures\":{");
        List<String> fs = new ArrayList<>();
        new TreeMap<>(kit.reportFigures()).forEach((k, v) -> fs.add(q(k) + ":" + (v instanceof Number n ? String.format(Locale.ROOT, "%.4f", n.doubleValue()) : q(String.valueOf(v)))));
        j.append(String.join(",", fs)).append("}}\n");
        return j.toString();
    }

    private String markdown(ConformanceKit kit, BackendProvider provider, Map<String, int[]> areas, boolean conforms) {
        StringBuilder m = new StringBuilder();
        m.append("# Conformance: ").append(provider.name()).append(conforms ? " — conforms" : " — DOES NOT CONFORM").append("\n\n");
        m.append("Provider `").append(provider.getClass().getName()).append("`, SPI version ").append(provider.spiVersion())
                .append(", device under test `").append(kit.deviceId()).append("` (").append(kit.device().name()).append("), ")
                .append(Instant.now()).append("\n\n| area | passed | failed | skipped |\n|---|---:|---:|---:|\n");
        areas.forEach((area, c) -> m.append("| ").append(area).append(" | ").append(c[0]).append(" | ").append(c[1]).append(" | ").append(c[2]).append(" |\n"));
        List<Outcome> notPassed = outcomes.stream().filter(o -> !o.result().equals("passed")).toList();
        if (!notPassed.isEmpty()) {
            m.append("\nNot passed:\n\n");
            for (Outcome o : notPassed) {
                m.append("- ").append(o.result()).append(" `").append(o.test()).append("` (").append(o.area()).append("): ").append(o.reason()).append('\n');
            }
        }
        Map<String, Object> f = kit.reportFigures();
        if (f.containsKey("deviceGflops")) {
            m.append(String.format(Locale.ROOT, "%nReference GEMM %s: %.1f GFLOP/s on the device, %.1f GFLOP/s on the CPU backend (ratio %.2f).%n",
                    f.get("referenceGemm"), ((Number) f.get("deviceGflops")).doubleValue(),
                    ((Number) f.getOrDefault("cpuBackendGflops", Double.NaN)).doubleValue(),
                    ((Number) f.getOrDefault("ratioToCpuBackend", Double.NaN)).doubleValue()));
        }
        return m.toString();
    }

    private static String q(String s) {
        if (s == null) {
            return "null";
        }
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> b.append(c < 0x20 ? String.format("\\u%04x", (int) c) : String.valueOf(c));
            }
        }
        return b.append('"').toString();
    }
}
