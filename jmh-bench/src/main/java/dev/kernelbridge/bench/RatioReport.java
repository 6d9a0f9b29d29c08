package dev.kernelbridge.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * Runs the benchmarks and prints every figure as a ratio to its peer measured in the same run:
 * GEMM against OpenBLAS, all-reduce against the memory-bandwidth bound BW/(2·ranks).
 *
 * <pre>java -jar jmh-bench/target/benchmarks.jar [--quick] [--only gemm|allreduce] [--report DIR]</pre>
 * (ci/bench wraps it with the environment OpenBLAS needs.) The report is Markdown on stdout and,
 * with --report, report.md and results.json in DIR.
 */
public final class RatioReport {
    private RatioReport() { }

    public static void main(String[] args) throws RunnerException, IOException {
        boolean quick = false;
        String only = "all";
        Path report = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--quick" -> quick = true;
                case "--only" -> only = args[++i];
                case "--report" -> report = Path.of(args[++i]);
                default -> {
                    System.err.println("usage: RatioReport [--quick] [--only gemm|allreduce] [--report DIR]");
                    System.exit(2);
                }
            }
        }
        StringBuilder md = new StringBuilder();
        StringBuilder json = new StringBuilder("{\"when\":\"" + Instant.now() + "\",\"machine\":" + machine() + ",\"figures\":[");
        List<String> figures = new ArrayList<>();
        md.append("# KernelBridge ratios, ").append(Instant.now()).append("\n\n");
        md.append("Machine: ").append(Runtime.getRuntime().availableProcessors()).append(" cores, ")
                .append(System.getProperty("java.vm.name")).append(' ').append(Runtime.version()).append(", OpenBLAS core: ")
                .append(OpenBlas.get().map(OpenBlas::coreName).orElse("peer unavailable")).append("\n\n");

        if (!only.equals("allreduce")) {
            String[] sizes = quick ? new String[] {"128", "512", "2048"} : new String[] {"64", "128", "256", "512", "1024", "2048", "4096"};
            Collection<RunResult> rs = run(quick, GemmBenchmark.class, opts -> opts.param("n", sizes));
            md.append("## GEMM, square n×n×n, column-major, every core (GFLOP/s, ours / OpenBLAS)\n\n");
            md.append("| dtype | n | KernelBridge | OpenBLAS | ratio |\n|---|---:|---:|---:|---:|\n");
            for (String dtype : new String[] {"f32", "f64"}) {
                for (String n : sizes) {
                    double ours = gflops(rs, "kernelbridge", dtype, n), theirs = gflops(rs, "openblas", dtype, n);
                    md.append(String.format(Locale.ROOT, "| %s | %s | %.1f | %.1f | %.2f |%n", dtype, n, ours, theirs, ours / theirs));
                    figures.add(String.format(Locale.ROOT, "{\"figure\":\"gemm_%s_n%s\",\"ours\":%.3f,\"peer\":%.3f,\"ratio\":%.4f,\"unit\":\"GFLOP/s\",\"peerName\":\"OpenBLAS\"}",
                            dtype, n, ours, theirs, ours / theirs));
                }
            }
            md.append('\n');
        }
        if (!only.equals("gemm")) {
            Collection<RunResult> bw = run(quick, CopyBandwidthBenchmark.class, opts -> opts);
            double seconds = bw.iterator().next().getPrimaryResult().getScore() * 1e-6;
            double bandwidth = 2.0 * CopyBandwidthBenchmark.BYTES / seconds / 1e9;
            Collection<RunResult> rs = run(quick, AllReduceBenchmark.class, opts -> opts);
            md.append(String.format(Locale.ROOT, "## All-reduce, in-process CPU ranks, F32 sum (GB/s)%n%nCopy bandwidth BW (read + write, every core): %.1f GB/s%n%n", bandwidth));
            md.append("| ranks | MiB | algorithm bandwidth | bound BW/(2·ranks) | ratio |\n|---:|---:|---:|---:|---:|\n");
            for (RunResult r : rs) {
                int ranks = Integer.parseInt(r.getParams().getParam("ranks"));
                int mib = Integer.parseInt(r.getParams().getParam("mib"));
                double alg = mib * (double) (1 << 20) / (r.getPrimaryResult().getScore() * 1e-6) / 1e9;
                double bound = bandwidth / (2 * ranks);
                md.append(String.format(Locale.ROOT, "| %d | %d | %.2f | %.2f | %.2f |%n", ranks, mib, alg, bound, alg / bound));
                figures.add(String.format(Locale.ROOT, "{\"figure\":\"allreduce_r%d_%dmib\",\"ours\":%.3f,\"peer\":%.3f,\"ratio\":%.4f,\"unit\":\"GB/s\",\"peerName\":\"BW/(2N)\"}",
                        ranks, mib, alg, bound, alg / bound));
            }
            md.append('\n');
        }
        json.append(String.join(",", figures)).append("]}\n");
        System.out.println(md);
        if (report != null) {
            Files.createDirectories(report);
            Files.writeString(report.resolve("report.md"), md);
            Files.writeString(report.resolve("results.json"), json);
            System.out.println("written: " + report.resolve("report.md") + ", " + report.resolve("results.json"));
        }
    }

    private interface Tweak {
        ChainedOptionsBuilder apply(ChainedOptionsBuilder o);
    }

    private static Collection<RunResult> run(boolean quick, Class<?> benchmark, Tweak tweak) throws RunnerException {
        ChainedOptionsBuilder o = new OptionsBuilder().include(benchmark.getName() + "\\.").shouldFailOnError(true);
        if (quick) {
            o = o.warmupIterations(2).warmupTime(TimeValue.milliseconds(500)).measurementIterations(3).measurementTime(TimeValue.milliseconds(700));
        }
        return new Runner(tweak.apply(o).timeUnit(TimeUnit.MICROSECONDS).build()).run();
    }

    private static double gflops(Collection<RunResult> rs, String impl, String dtype, String n) {
        for (RunResult r : rs) {
            var p = r.getParams();
            if (p.getParam("impl").equals(impl) && p.getParam("dtype").equals(dtype) && p.getParam("n").equals(n)) {
                double size = Double.parseDouble(n);
                return 2 * size * size * size / (r.getPrimaryResult().getScore() * 1e-6) / 1e9;
            }
        }
        return Double.NaN;
    }

    private static String machine() {
        String cpu = "unknown";
        try {
            cpu = Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
                    .map(l -> l.substring(l.indexOf(':') + 1).trim()).findFirst().orElse(cpu);
        } catch (IOException | RuntimeException e) {
            // keep "unknown"
        }
        return String.format(Locale.ROOT, "{\"cpu\":\"%s\",\"cores\":%d,\"jdk\":\"%s\",\"openblasCore\":\"%s\"}", cpu,
                Runtime.getRuntime().availableProcessors(), Runtime.version(), OpenBlas.get().map(OpenBlas::coreName).orElse("unavailable"));
    }
}
