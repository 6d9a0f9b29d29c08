package dev.kernelbridge.bench;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.RunnerException;

/**
 * The mixture-of-experts section of {@link RatioReport} (issue 15): {@link GroupedGemmBenchmark}
 * (our grouped up-projection against a loop of OpenBLAS calls and against our single GEMM of the
 * same FLOPs) and {@link AllToAllBenchmark} (in-process all-to-all-v against the copy of the same
 * bytes), every figure a ratio to a peer from the same run, the targets beside them. The
 * MPI all-to-all-v comparison runs in separate processes (ci/bench-moe, {@link MpiAllToAllRatio}).
 * A case that fails is listed and fails the run without stopping the others.
 */
final class MoeReport {
    private MoeReport() { }

    static final List<DTypeReport.Target> TARGETS = List.of(
            new DTypeReport.Target(Pattern.compile("moe_grouped_vs_openblas_loop"), 1.3, "grouped up-projection / loop of OpenBLAS sgemm"),
            new DTypeReport.Target(Pattern.compile("moe_grouped_vs_single"), 0.90, "grouped up-projection / our single GEMM of the same FLOPs"),
            new DTypeReport.Target(Pattern.compile("moe_alltoallv_r\\d+_t\\d+_vs_copy"), 0.80, "in-process all-to-all-v / copy of the same bytes"));

    /** Tokens of the all-to-all cases: the layer's 4096, and in the full set a small batch too. */
    static List<String> tokens(boolean quick) {
        return quick ? List.of("4096") : List.of("512", "4096");
    }

    /** Runs both benchmarks, appends the section to {@code md} and its figures to {@code figures}; returns the cases that failed. */
    static List<String> run(boolean quick, double fmaPeakGflops, StringBuilder md, List<Figure> figures) throws RunnerException {
        List<String> failed = new ArrayList<>();
        MoeLayer layer = MoeLayer.MIXTRAL_SCALED;
        boolean withOpenBlas = OpenBlas.get().isPresent();
        List<String> impls = new ArrayList<>(List.of("grouped", "single"));
        if (withOpenBlas) {
            impls.add("openblas-loop");
        }
        Collection<RunResult> gemm = RatioReport.run(quick, GroupedGemmBenchmark.class, o -> o.param("impl", impls.toArray(String[]::new)), false);
        double flops = layer.upProjectionFlops();
        double[] grouped = rate(gemm, p -> "grouped".equals(p.getParam("impl")), flops);
        double[] single = rate(gemm, p -> "single".equals(p.getParam("impl")), flops);
        double[] loop = rate(gemm, p -> "openblas-loop".equals(p.getParam("impl")), flops);
        for (String impl : impls) {
            if (Double.isNaN(rate(gemm, p -> impl.equals(p.getParam("impl")), flops)[0])) {
                failed.add("GroupedGemmBenchmark " + impl);
            }
        }
        long[] offsets = layer.offsets();
        StringBuilder rows = new StringBuilder();
        for (int e = 0; e < layer.experts(); e++) {
            rows.append(e == 0 ? "" : ", ").append(offsets[e + 1] - offsets[e]);
        }
        md.append(String.format(Locale.ROOT, "## MoE: grouped up-projection, F32, row-major, every core (GFLOP/s)%n%n"
                + "%d tokens, top-%d of %d experts, hidden %d, ffn %d: Σm = %d routed rows, per expert %s (router seed %d, weights 1/(e+1)). "
                + "C_g := A_g·B_g with A_g m_g×%d and B_g %d×%d; %.1f GFLOP per call. The single GEMM is Σm×%d times one %d×%d B.%n%n",
                layer.tokens(), layer.topK(), layer.experts(), layer.hidden(), layer.ffn(), layer.rows(), rows, layer.seed(),
                layer.hidden(), layer.hidden(), layer.ffn(), flops / 1e9, layer.hidden(), layer.hidden(), layer.ffn()));
        md.append(withOpenBlas ? "OpenBLAS core: " + OpenBlas.get().get().coreName() + " (openblas_get_corename), "
                + Runtime.getRuntime().availableProcessors() + " threads.\n\n"
                : "OpenBLAS: peer unavailable (libopenblas.so.0 is not installed).\n\n");
        md.append("| KernelBridge grouped | OpenBLAS loop | grouped / loop | KernelBridge single GEMM | grouped / single | FMA peak | grouped / peak |\n"
                + "|---:|---:|---:|---:|---:|---:|---:|\n");
        md.append(String.format(Locale.ROOT, "| %.1f | %.1f | %.2f | %.1f | %.2f | %.0f | %.2f |%n%n", grouped[0], loop[0], grouped[0] / loop[0],
                single[0], grouped[0] / single[0], fmaPeakGflops, grouped[0] / fmaPeakGflops));
        figures.add(new Figure("moe_grouped_vs_openblas_loop", grouped[0], grouped[1], loop[0], loop[1], "OpenBLAS sgemm loop", "GFLOP/s"));
        figures.add(new Figure("moe_grouped_vs_single", grouped[0], grouped[1], single[0], single[1], "KernelBridge single GEMM", "GFLOP/s"));

        String[] ranks = {"2", "4"};
        List<String> tokens = tokens(quick);
        Collection<RunResult> a2a = RatioReport.run(quick, AllToAllBenchmark.class,
                o -> o.param("ranks", ranks).param("tokens", tokens.toArray(String[]::new)), false);
        md.append("## MoE: dispatch all-to-all-v, in-process ranks on cpu:0, F32 (GB/s of bytes received)\n\n"
                + "Each rank sends the hidden-wide rows its tokens route to the experts of every rank (tokens and experts split evenly over the ranks). "
                + "The bound is a plain memcpy of the bytes each rank receives, one thread per rank, all ranks at once, in the same run.\n\n");
        md.append("| ranks | tokens | MiB moved | all-to-all-v | copy bound | ratio |\n|---:|---:|---:|---:|---:|---:|\n");
        for (String t : tokens) {
            double bytes = AllToAllBenchmark.bytesMoved(Integer.parseInt(t));
            for (String r : ranks) {
                double[] ours = rate(a2a, p -> p.getBenchmark().endsWith(".allToAllV") && r.equals(p.getParam("ranks")) && t.equals(p.getParam("tokens")), bytes);
                double[] copy = rate(a2a, p -> p.getBenchmark().endsWith(".copyBound") && r.equals(p.getParam("ranks")) && t.equals(p.getParam("tokens")), bytes);
                if (Double.isNaN(ours[0]) || Double.isNaN(copy[0])) {
                    failed.add("AllToAllBenchmark ranks=" + r + " tokens=" + t);
                }
                md.append(String.format(Locale.ROOT, "| %s | %s | %.0f | %.2f | %.2f | %.2f |%n", r, t, bytes / (1 << 20), ours[0], copy[0], ours[0] / copy[0]));
                figures.add(new Figure("moe_alltoallv_r" + r + "_t" + t + "_vs_copy", ours[0], ours[1], copy[0], copy[1], "memcpy", "GB/s"));
            }
        }
        md.append('\n');
        md.append(DTypeReport.noise(figures, "moe_")).append(DTypeReport.targets("Targets (issue 15)", TARGETS, figures));
        if (!failed.isEmpty()) {
            md.append("\n**Failed cases** (no figure; the error is in the log): ").append(String.join(", ", failed)).append("\n");
        }
        md.append('\n');
        return failed;
    }

    /** G(units)/s and its error for the one result that matches, {@code work} units per call; NaNs when it did not run. */
    private static double[] rate(Collection<RunResult> rs, Predicate<BenchmarkParams> which, double work) {
        return DTypeReport.rate(rs, which, work);
    }
}
