package dev.kernelbridge.bench;

import dev.kernelbridge.tck.Cases;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.RunnerException;

/**
 * The ML dtypes section of {@link RatioReport} (issue 14): {@link DTypeGemmBenchmark} and
 * {@link DTypeAllReduceBenchmark}, each figure a ratio to a peer from the same run — our own F32
 * GEMM or all-reduce (what the narrow types must beat) or oneDNN — and the targets beside
 * them. The targets are reported; the gate, as for every figure, judges only a ratio's change
 * against this machine's baseline.
 *
 * <p>A case that fails (a wrong result, a dtype a path does not support yet) is listed in the
 * report and fails the run, but does not stop the other cases.
 */
final class DTypeReport {
    private DTypeReport() { }

    /** A target on the ratio of every figure whose name matches: met when ratio ≥ min. */
    record Target(Pattern figures, double min, String meaning) { }

    static final List<Target> TARGETS = List.of(
            new Target(Pattern.compile("dtypes_gemm_bf16_n\\d+_vs_f32"), 0.90, "BF16 GEMM FLOP rate / our F32 GEMM's"),
            new Target(Pattern.compile("dtypes_gemm_f16_n\\d+_vs_f32"), 0.90, "F16 GEMM FLOP rate / our F32 GEMM's"),
            new Target(Pattern.compile("dtypes_gemm_i8_n\\d+_vs_f32"), 1.0, "I8 GEMM op rate / our F32 GEMM's FLOP rate"),
            new Target(Pattern.compile("dtypes_gemm_i8_n\\d+_vs_onednn"), 0.5, "I8 GEMM / oneDNN s8s8s32"),
            new Target(Pattern.compile("dtypes_allreduce_bf16_r\\d+_\\d+mib_vs_f32"), 1.6, "BF16 all-reduce element rate / F32's"));

    /** Sizes: the kit's square cases from 512 up (quick: 512 and 2048; full: 512 … 4096). */
    static List<String> sizes(boolean quick) {
        return (quick ? Cases.SQUARE_QUICK : Cases.SQUARE_FULL).stream().filter(n -> n >= 512).map(String::valueOf).toList();
    }

    /** Runs both benchmarks, appends the section to {@code md} and its figures to {@code figures}; returns the cases that failed. */
    static List<String> run(boolean quick, StringBuilder md, List<Figure> figures) throws RunnerException {
        List<String> failed = new ArrayList<>();
        List<String> sizes = sizes(quick);
        boolean withOneDnn = OneDnn.get().isPresent();
        List<String> kernels = new ArrayList<>(List.of("kernelbridge-f32", "kernelbridge-bf16", "kernelbridge-f16", "kernelbridge-i8"));
        if (withOneDnn) {
            kernels.addAll(List.of("onednn-f32", "onednn-bf16", "onednn-s8s8s32"));
        }
        Collection<RunResult> gemm = RatioReport.run(quick, DTypeGemmBenchmark.class,
                o -> o.param("kernel", kernels.toArray(String[]::new)).param("n", sizes.toArray(String[]::new))
                        .param("threads", DTypeGemmBenchmark.THREADS), false);
        for (String k : kernels) {
            for (String n : sizes) {
                if (Double.isNaN(gemmRate(gemm, k, n)[0])) {
                    failed.add("DTypeGemmBenchmark " + k + " n=" + n);
                }
            }
        }
        md.append("## ML dtypes: GEMM, square n×n×n, row-major, ").append(DTypeGemmBenchmark.THREADS).append(" threads (GFLOP/s; I8: GOP/s, 2n³ ops)\n\n")
                .append(withOneDnn ? "oneDNN " + OneDnn.get().get().version() + " (libdnnl2).\n\n"
                        : "oneDNN: peer unavailable (libdnnl.so.2 is not installed; ci/setup bench installs libdnnl2).\n\n");
        md.append("Against our own F32 GEMM (targets: BF16 and F16 ≥ 0.90, I8 ≥ 1.0):\n\n");
        md.append("| n | F32 | BF16 | BF16 / F32 | F16 | F16 / F32 | I8 | I8 / F32 |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for (String n : sizes) {
            double[] f32 = gemmRate(gemm, "kernelbridge-f32", n), bf16 = gemmRate(gemm, "kernelbridge-bf16", n),
                    f16 = gemmRate(gemm, "kernelbridge-f16", n), i8 = gemmRate(gemm, "kernelbridge-i8", n);
            md.append(String.format(Locale.ROOT, "| %s | %.1f | %.1f | %.2f | %.1f | %.2f | %.1f | %.2f |%n", n, f32[0], bf16[0], bf16[0] / f32[0],
                    f16[0], f16[0] / f32[0], i8[0], i8[0] / f32[0]));
            figures.add(new Figure("dtypes_gemm_bf16_n" + n + "_vs_f32", bf16[0], bf16[1], f32[0], f32[1], "KernelBridge F32", "GFLOP/s"));
            figures.add(new Figure("dtypes_gemm_f16_n" + n + "_vs_f32", f16[0], f16[1], f32[0], f32[1], "KernelBridge F32", "GFLOP/s"));
            figures.add(new Figure("dtypes_gemm_i8_n" + n + "_vs_f32", i8[0], i8[1], f32[0], f32[1], "KernelBridge F32", "GOP/s"));
        }
        md.append("\nAgainst oneDNN on the same threads (target: I8 ≥ 0.5× s8s8s32; F32 and BF16 reported):\n\n");
        md.append("| n | oneDNN F32 | ours / oneDNN | oneDNN BF16 | ours / oneDNN | oneDNN s8s8s32 | ours I8 / oneDNN |\n|---:|---:|---:|---:|---:|---:|---:|\n");
        for (String n : sizes) {
            double[] f32 = gemmRate(gemm, "kernelbridge-f32", n), bf16 = gemmRate(gemm, "kernelbridge-bf16", n), i8 = gemmRate(gemm, "kernelbridge-i8", n);
            double[] dnnF32 = gemmRate(gemm, "onednn-f32", n), dnnBf16 = gemmRate(gemm, "onednn-bf16", n), dnnS8 = gemmRate(gemm, "onednn-s8s8s32", n);
            md.append(String.format(Locale.ROOT, "| %s | %.1f | %.2f | %.1f | %.2f | %.1f | %.2f |%n", n, dnnF32[0], f32[0] / dnnF32[0],
                    dnnBf16[0], bf16[0] / dnnBf16[0], dnnS8[0], i8[0] / dnnS8[0]));
            figures.add(new Figure("dtypes_gemm_f32_n" + n + "_vs_onednn", f32[0], f32[1], dnnF32[0], dnnF32[1], "oneDNN", "GFLOP/s"));
            figures.add(new Figure("dtypes_gemm_bf16_n" + n + "_vs_onednn", bf16[0], bf16[1], dnnBf16[0], dnnBf16[1], "oneDNN", "GFLOP/s"));
            figures.add(new Figure("dtypes_gemm_i8_n" + n + "_vs_onednn", i8[0], i8[1], dnnS8[0], dnnS8[1], "oneDNN", "GOP/s"));
        }
        md.append('\n');

        String[] mib = {"16", "64"};
        String ranks = DTypeAllReduceBenchmark.RANKS;
        Collection<RunResult> ar = RatioReport.run(quick, DTypeAllReduceBenchmark.class, o -> o.param("mib", mib).param("dtype", "f32", "bf16").param("ranks", ranks), false);
        md.append("## ML dtypes: all-reduce, in-process ranks on cpu:0, sum, the same message size in bytes (G elements/s; target BF16 / F32 ≥ 1.6)\n\n");
        md.append("| ranks | size | F32 | BF16 | BF16 / F32 |\n|---:|---:|---:|---:|---:|\n");
        for (String m : mib) {
            double[] f32 = elementRate(ar, "f32", m, 4), bf16 = elementRate(ar, "bf16", m, 2);
            if (Double.isNaN(f32[0])) {
                failed.add("DTypeAllReduceBenchmark f32 " + m + " MiB");
            }
            if (Double.isNaN(bf16[0])) {
                failed.add("DTypeAllReduceBenchmark bf16 " + m + " MiB");
            }
            md.append(String.format(Locale.ROOT, "| %s | %s MiB | %.3f | %.3f | %.2f |%n", ranks, m, f32[0], bf16[0], bf16[0] / f32[0]));
            figures.add(new Figure("dtypes_allreduce_bf16_r" + ranks + "_" + m + "mib_vs_f32", bf16[0], bf16[1], f32[0], f32[1], "KernelBridge F32", "Gelem/s"));
        }
        md.append('\n');
        md.append(noise(figures)).append(targets(figures));
        if (!failed.isEmpty()) {
            md.append("\n**Failed cases** (no figure; the error is in the log): ").append(String.join(", ", failed)).append("\n");
        }
        md.append('\n');
        return failed;
    }

    /** The widest JMH error (99.9 % half-width) of this section's figures: how far to trust a ratio from this run. */
    static String noise(List<Figure> figures) {
        return noise(figures, "dtypes_");
    }

    /** As {@link #noise(List)}, for the figures whose names start with {@code prefix}. */
    static String noise(List<Figure> figures, String prefix) {
        double widest = figures.stream().filter(f -> f.name().startsWith(prefix))
                .flatMapToDouble(f -> java.util.stream.DoubleStream.of(f.oursError() / f.ours(), f.peerError() / f.peer()))
                .filter(e -> !Double.isNaN(e)).max().orElse(Double.NaN);
        return String.format(Locale.ROOT, "JMH errors (99.9 %%) of these rates reach ±%.0f %% in this run; each is in results.json.%n%n", 100 * widest);
    }

    /** Each target with the ratios it covers: how many met it, and the lowest and highest. */
    static String targets(List<Figure> figures) {
        return targets("Targets (issue 14)", TARGETS, figures);
    }

    /** The table of {@link #targets(List)} for any list of targets, under a heading. */
    static String targets(String heading, List<Target> targets, List<Figure> figures) {
        StringBuilder t = new StringBuilder("### " + heading + "\n\n| target | ratio | measured (min – max) | met |\n|---|---:|---:|---:|\n");
        for (Target target : targets) {
            List<Double> ratios = figures.stream().filter(f -> target.figures().matcher(f.name()).matches()).map(Figure::ratio)
                    .filter(r -> !Double.isNaN(r)).toList();
            double lo = ratios.stream().mapToDouble(Double::doubleValue).min().orElse(Double.NaN);
            double hi = ratios.stream().mapToDouble(Double::doubleValue).max().orElse(Double.NaN);
            long met = ratios.stream().filter(r -> r >= target.min()).count();
            t.append(String.format(Locale.ROOT, "| %s | ≥ %.2f | %s | %s |%n", target.meaning(), target.min(),
                    ratios.isEmpty() ? "no figure" : String.format(Locale.ROOT, "%.2f – %.2f", lo, hi),
                    ratios.isEmpty() ? "—" : met + " of " + ratios.size()));
        }
        return t.toString();
    }

    private static double[] gemmRate(Collection<RunResult> rs, String kernel, String n) {
        return rate(rs, p -> kernel.equals(p.getParam("kernel")) && n.equals(p.getParam("n")), 2 * Math.pow(Double.parseDouble(n), 3));
    }

    private static double[] elementRate(Collection<RunResult> rs, String dtype, String mib, int bytes) {
        return rate(rs, p -> dtype.equals(p.getParam("dtype")) && mib.equals(p.getParam("mib")), Double.parseDouble(mib) * 1024 * 1024 / bytes);
    }

    /** G(ops)/s and its error for the one result that matches, with {@code work} ops per call; NaNs when it did not run. */
    static double[] rate(Collection<RunResult> rs, Predicate<org.openjdk.jmh.infra.BenchmarkParams> which, double work) {
        for (RunResult r : rs) {
            if (which.test(r.getParams())) {
                double score = r.getPrimaryResult().getScore(); // µs per call
                double g = work / (score * 1e-6) / 1e9;
                return new double[] {g, g * RatioReport.relativeError(score, r.getPrimaryResult().getScoreError())};
            }
        }
        return new double[] {Double.NaN, Double.NaN};
    }
}
