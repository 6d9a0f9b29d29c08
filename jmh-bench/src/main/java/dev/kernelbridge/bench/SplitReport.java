package dev.kernelbridge.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.OptionsBuilder;

/**
 * Runs {@link SplitBenchmark} once for one core arrangement and writes its figures as ratios
 * ({@code DIR/split-<cores>.md} and {@code .json}):
 * <ul>
 *   <li>disjoint (the CPU backend on one thread, PoCL limited to one by the environment):
 *       split throughput / (cpu + opencl throughput) — target ≥ 0.90;</li>
 *   <li>shared (both on every core): split time / best single device's time — target ≤ 1.05;</li>
 *   <li>both: failover − cpu − failed attempt, the failover's own cost — target ≤ 10 ms.</li>
 * </ul>
 * Usage: {@code SplitReport disjoint|shared DIR [n]}; ci/bench-split sets the environment.
 */
public final class SplitReport {
    private SplitReport() { }

    public static void main(String[] args) throws Exception {
        String cores = args[0];
        Path dir = Path.of(args[1]);
        String n = args.length > 2 ? args[2] : "2048";
        OptionsBuilder o = new OptionsBuilder();
        o.include(SplitBenchmark.class.getName() + "\\.").param("n", n).shouldFailOnError(true);
        if (cores.equals("disjoint")) {
            o.jvmArgsAppend("-Dkernelbridge.cpu.threads=1");
        }
        Collection<RunResult> results = new Runner(o.build()).run();
        Map<String, Double> ms = new HashMap<>();
        for (RunResult r : results) {
            ms.put(r.getParams().getParam("mode"), r.getPrimaryResult().getScore());
        }
        double cpu = ms.get("cpu"), cl = ms.get("opencl"), split = ms.get("split");
        double failoverCost = ms.get("failover") - cpu - ms.get("failed-attempt");
        StringBuilder md = new StringBuilder();
        md.append(String.format(Locale.ROOT, "### %s cores, n = %s (ms per SGEMM, JMH average)%n%n", cores, n));
        md.append("| cpu:0 | opencl:0 | split | failover | failed attempt |\n|---:|---:|---:|---:|---:|\n");
        md.append(String.format(Locale.ROOT, "| %.1f | %.1f | %.1f | %.1f | %.1f |%n%n", cpu, cl, split, ms.get("failover"), ms.get("failed-attempt")));
        String json;
        if (cores.equals("disjoint")) {
            double sum = 1 / cpu + 1 / cl;
            double ratio = (1 / split) / sum;
            md.append(String.format(Locale.ROOT, "- split throughput / sum of the two devices' throughputs: **%.3f** (target ≥ 0.90)%n", ratio));
            json = String.format(Locale.ROOT, "{\"cores\":\"disjoint\",\"n\":%s,\"ms\":%s,\"splitOverSum\":%.4f,\"failoverCostMs\":%.2f}",
                    n, toJson(ms), ratio, failoverCost);
        } else {
            double best = Math.min(cpu, cl);
            double ratio = split / best;
            md.append(String.format(Locale.ROOT, "- split time / best single device's time: **%.3f** (target ≤ 1.05)%n", ratio));
            json = String.format(Locale.ROOT, "{\"cores\":\"shared\",\"n\":%s,\"ms\":%s,\"splitOverBest\":%.4f,\"failoverCostMs\":%.2f}",
                    n, toJson(ms), ratio, failoverCost);
        }
        md.append(String.format(Locale.ROOT, "- failover's own cost (failover − cpu − failed attempt): **%.1f ms** (target ≤ 10 ms)%n", failoverCost));
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("split-" + cores + ".md"), md);
        Files.writeString(dir.resolve("split-" + cores + ".json"), json + "\n");
        System.out.println(md);
    }

    private static String toJson(Map<String, Double> ms) {
        StringBuilder s = new StringBuilder("{");
        ms.forEach((k, v) -> s.append(s.length() > 1 ? "," : "").append('"').append(k).append("\":").append(String.format(Locale.ROOT, "%.3f", v)));
        return s.append('}').toString();
    }
}
