package dev.kernelbridge.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import dev.kernelbridge.tck.Cases;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * Runs the benchmarks and prints every figure as a ratio to its peer measured in the same run:
 * GEMM against OpenBLAS, OpenCL SGEMM against CLBlast (same device) and OpenBLAS (same cores),
 * all-reduce, reduce-scatter, all-gather and broadcast against their memory-traffic bounds at the copy
 * bandwidth BW (BW/(2·ranks) and BW/(ranks+1), {@link CollectiveBandwidthBenchmark}), the ML dtypes (BF16, F16, I8) against
 * our own F32 and oneDNN ({@link DTypeReport}), the MoE grouped GEMM and all-to-all against an
 * OpenBLAS loop, our single GEMM and memcpy ({@link MoeReport}).
 *
 * <pre>java -jar jmh-bench/target/benchmarks.jar [--quick] [--only gemm|small|opencl|allreduce|dtypes|moe] [--report DIR]</pre>
 * (ci/bench wraps it with the environment OpenBLAS needs.) The report is Markdown on stdout and,
 * with --report, report.md and results.json in DIR.
 */
public final class RatioReport {
    private RatioReport() { }

    public static void main(String[] args) throws RunnerException, IOException {
        boolean quick = false;
        boolean updateBaseline = false;
        String only = "all";
        Path report = null;
        Path baselines = null;
        Path history = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--quick" -> quick = true;
                case "--only" -> only = args[++i];
                case "--report" -> report = Path.of(args[++i]);
                case "--baselines" -> baselines = Path.of(args[++i]);
                case "--update-baseline" -> updateBaseline = true;
                case "--history" -> history = Path.of(args[++i]);
                default -> {
                    System.err.println("usage: RatioReport [--quick] [--only gemm|small|opencl|allreduce|dtypes|moe] [--report DIR] [--history DIR] [--baselines DIR [--update-baseline]]");
                    System.exit(2);
                }
            }
        }
        Collection<RunResult> fma = run(quick, FmaPeakBenchmark.class, opts -> opts);
        // Counted with 16 lanes per vector in the benchmark; rescale to this machine's species.
        double fmaPeak = fma.iterator().next().getPrimaryResult().getScore() * FmaPeakBenchmark.lanes() / 16 / 1e3; // ops/us to GFLOP/s
        StringBuilder md = new StringBuilder();
        List<Figure> figures = new ArrayList<>();
        md.append("# KernelBridge ratios, ").append(Instant.now()).append("\n\n");
        md.append("Machine: ").append(Results.cpuModel()).append(", ").append(Runtime.getRuntime().availableProcessors()).append(" cores, ")
                .append(System.getProperty("java.vm.name")).append(' ').append(Runtime.version()).append(", OpenBLAS core: ")
                .append(OpenBlas.get().map(OpenBlas::coreName).orElse("peer unavailable")).append("\n\n");
        md.append("Command: `").append(System.getProperty("kernelbridge.bench.command", "RatioReport " + String.join(" ", args)))
                .append("`, revision ").append(System.getProperty("kernelbridge.bench.revision", "unknown")).append("\n\n");
        md.append(String.format(Locale.ROOT, "F32 FMA peak (every core, Vector API): %.0f GFLOP/s%n%n", fmaPeak));

        if (only.equals("all") || only.equals("gemm")) {
            String[] sizes = (quick ? Cases.SQUARE_QUICK : Cases.SQUARE_FULL).stream().map(String::valueOf).toArray(String[]::new);
            boolean withBlis = Blis.get().isPresent();
            String[] impls = withBlis ? new String[] {"kernelbridge", "openblas", "blis"} : new String[] {"kernelbridge", "openblas"};
            Collection<RunResult> rs = run(quick, GemmBenchmark.class, opts -> opts.param("n", sizes).param("impl", impls));
            md.append("## GEMM, square n×n×n, column-major, every core (GFLOP/s, ours / OpenBLAS, ours / BLIS)\n\n")
                    .append(withBlis ? "BLIS " + Blis.get().get().version() + ".\n\n" : "BLIS: peer unavailable (libblis.so.4 is not installed).\n\n");
            md.append("| dtype | n | KernelBridge | OpenBLAS | ratio | BLIS | ratio |\n|---|---:|---:|---:|---:|---:|---:|\n");
            for (String dtype : new String[] {"f32", "f64"}) {
                for (String n : sizes) {
                    double[] ours = gflops(rs, "kernelbridge", dtype, n), theirs = gflops(rs, "openblas", dtype, n), blis = gflops(rs, "blis", dtype, n);
                    md.append(String.format(Locale.ROOT, "| %s | %s | %.1f | %.1f | %.2f | %.1f | %.2f |%n", dtype, n, ours[0], theirs[0],
                            ours[0] / theirs[0], blis[0], ours[0] / blis[0]));
                    figures.add(new Figure("gemm_" + dtype + "_n" + n, ours[0], ours[1], theirs[0], theirs[1], "OpenBLAS", "GFLOP/s"));
                    figures.add(new Figure("gemm_" + dtype + "_n" + n + "_vs_blis", ours[0], ours[1], blis[0], blis[1], "BLIS", "GFLOP/s"));
                }
            }
            md.append('\n');
        }
        if (only.equals("all") || only.equals("gemm")) {
            List<Cases.GemmShape> shapes = quick ? Cases.ML_QUICK : Cases.ML_FULL;
            Collection<RunResult> rs = run(quick, GemmShapesBenchmark.class,
                    opts -> opts.param("shape", shapes.stream().map(Cases.GemmShape::id).toArray(String[]::new)).param("impl", "kernelbridge", "openblas"));
            md.append("## GEMM, ML shapes, F32, every core (GFLOP/s, ours / OpenBLAS; a batch is a loop of OpenBLAS calls)\n\n");
            md.append("| case | batch × m×n×k | KernelBridge | OpenBLAS | ratio |\n|---|---|---:|---:|---:|\n");
            for (Cases.GemmShape sh : shapes) {
                double[] ours = shapeGflops(rs, "kernelbridge", sh), theirs = shapeGflops(rs, "openblas", sh);
                md.append(String.format(Locale.ROOT, "| %s | %d × %d×%d×%d | %.1f | %.1f | %.2f |%n", sh.id(), sh.batch(), sh.m(), sh.n(), sh.k(),
                        ours[0], theirs[0], ours[0] / theirs[0]));
                figures.add(new Figure("gemm_ml_" + sh.id(), ours[0], ours[1], theirs[0], theirs[1], "OpenBLAS", "GFLOP/s"));
            }
            md.append('\n');
            Collection<RunResult> dispatch = run(quick, DispatchBenchmark.class, opts -> opts.param("routine", "auto"));
            // run() reports every score in µs
            double oursNs = 1e3 * score(dispatch, "tinyGemmKernelBridge"), theirsNs = 1e3 * score(dispatch, "tinyGemmOpenBlas");
            double ffm = 1e3 * score(dispatch, "ffmDowncall");
            md.append(String.format(Locale.ROOT, "## Dispatch overhead (ns per call; shown, not gated)%n%n| call | KernelBridge | OpenBLAS via FFM | ratio (speed) |%n|---|---:|---:|---:|%n"
                    + "| SGEMM 8×8×8 | %.1f | %.1f | %.2f |%n| bare FFM downcall (openblas_get_num_threads) | — | %.1f | |%n%n", oursNs, theirsNs, theirsNs / oursNs, ffm));
            // Shown, not gated: nanosecond latencies drift by a quarter between runs on a shared VM.
        }
        if (only.equals("small")) {
            small(quick, md, figures);
        }
        if (only.equals("all") || only.equals("opencl")) {
            String[] sizes = quick ? new String[] {"512", "2048"} : new String[] {"512", "1024", "2048"};
            Collection<RunResult> rs = run(quick, OpenClGemmBenchmark.class, opts -> opts.param("n", sizes));
            md.append("## OpenCL SGEMM on the first OpenCL device, shipped tuning (GFLOP/s)\n\n")
                    .append("Peers in the same run: CLBlast on the same device, OpenBLAS on the same cores.\n\n");
            md.append("| n | KernelBridge OpenCL | CLBlast | ours / CLBlast | OpenBLAS | ours / OpenBLAS |\n|---:|---:|---:|---:|---:|---:|\n");
            for (String n : sizes) {
                double[] ours = gflops(rs, "kernelbridge-opencl", null, n), clblast = gflops(rs, "clblast", null, n), openblas = gflops(rs, "openblas", null, n);
                md.append(String.format(Locale.ROOT, "| %s | %.1f | %.1f | %.2f | %.1f | %.2f |%n", n, ours[0], clblast[0], ours[0] / clblast[0],
                        openblas[0], ours[0] / openblas[0]));
                figures.add(new Figure("opencl_sgemm_n" + n + "_vs_clblast", ours[0], ours[1], clblast[0], clblast[1], "CLBlast", "GFLOP/s"));
                figures.add(new Figure("opencl_sgemm_n" + n + "_vs_openblas", ours[0], ours[1], openblas[0], openblas[1], "OpenBLAS", "GFLOP/s"));
            }
            md.append('\n');
        }
        if (only.equals("all") || only.equals("allreduce")) {
            Collection<RunResult> bw = run(quick, CopyBandwidthBenchmark.class, opts -> opts);
            var copy = bw.iterator().next().getPrimaryResult();
            double seconds = copy.getScore() * 1e-6;
            double bandwidth = 2.0 * CopyBandwidthBenchmark.BYTES / seconds / 1e9;
            double bandwidthError = bandwidth * relativeError(copy.getScore(), copy.getScoreError());
            String[] ranks = quick ? new String[] {"2", "4"} : new String[] {"2", "4", "8"};
            String[] kib = quick ? new String[] {"4", "16384", "65536"} : new String[] {"4", "1024", "16384", "65536", "262144"};
            Collection<RunResult> rs = run(quick, CollectiveBandwidthBenchmark.class, opts -> opts.param("kind", "allReduce").param("ranks", ranks).param("kib", kib));
            // The other collectives at the sizes where memory traffic decides; the quick run keeps one
            // size and one rank count (three cases, under a minute with its three forks each).
            String[] collRanks = quick ? new String[] {"2"} : new String[] {"2", "4"};
            String[] collKib = quick ? new String[] {"16384"} : new String[] {"16384", "65536"};
            Collection<RunResult> coll = run(quick, CollectiveBandwidthBenchmark.class, opts -> opts
                    .param("kind", CollectiveBandwidthBenchmark.REPORTED_KINDS.toArray(String[]::new)).param("ranks", collRanks).param("kib", collKib));
            md.append(String.format(Locale.ROOT, "## Collectives, in-process CPU ranks, F32, out of place (GB/s)%n%nCopy bandwidth BW (read + write, every core): %.1f GB/s%n%n", bandwidth));
            md.append("S is each rank's full vector (all-reduce and broadcast: the vector; reduce-scatter: each rank's input; all-gather: each rank's output), "
                    + "N the ranks, algorithm bandwidth S/t. The bound is BW·S over the fewest bytes all ranks must read and write per call: "
                    + "all-reduce N·S + N·S, so BW/(2N); reduce-scatter N·S + S, all-gather S + N·S, broadcast S + N·S (the root's output written too), "
                    + "so BW/(N+1). Ratio: bound time / measured time (1.0 = at the memory bound).\n\n");
            md.append("| kind | ranks | size | algorithm bandwidth | bound | bound is | ratio |\n|---|---:|---:|---:|---:|---|---:|\n");
            List<RunResult> all = new ArrayList<>(rs);
            all.addAll(coll);
            collectiveRows(all, "", md, figures, bandwidth, bandwidthError);
            openClCollectives(quick, md, figures, bandwidth, bandwidthError);
            // Small messages as frameworks issue them: blocking calls on each rank's own thread (no hand-off).
            Collection<RunResult> latency = run(quick, AllReduceLatencyBenchmark.class, opts -> opts.param("ranks", "2").param("kib", "4"));
            md.append(String.format(Locale.ROOT, "4 KiB over 2 ranks, blocking calls meeting in shared memory: %.2f µs per call (target ≤ 2; "
                    + "Open MPI's MPI_Allreduce on 2 processes: ci/bench-mpi)%n%n", score(latency, "allReduce")));
        }
        List<String> failed = new ArrayList<>();
        if (only.equals("all") || only.equals("dtypes")) {
            failed.addAll(DTypeReport.run(quick, md, figures));
        }
        if (only.equals("all") || only.equals("moe")) {
            failed.addAll(MoeReport.run(quick, fmaPeak, md, figures));
        }
        Results results = new Results(Instant.now().toString(), Results.fingerprint(OpenBlas.get().map(OpenBlas::coreName).orElse("unavailable")), figures);
        boolean pass = true;
        if (baselines != null) {
            // A baseline per selection: a run of one section (--only) must neither be gated against the
            // whole set (every other figure 'missing') nor, with --update-baseline, replace it.
            String mode = (quick ? "quick" : "full") + (only.equals("all") ? "" : "-" + only);
            Baselines.Outcome gate = Baselines.gate(baselines, results, mode, updateBaseline);
            md.append(gate.markdown());
            pass = gate.pass();
        }
        System.out.println(md);
        if (report != null) {
            Files.createDirectories(report);
            Files.writeString(report.resolve("report.md"), md);
            results.write(report.resolve("results.json"));
            HtmlReport.write(report, results, md.toString(), fmaPeak, history);
            System.out.println("written: " + report.resolve("report.md") + ", results.json, report.html and charts");
        }
        if (!failed.isEmpty()) {
            System.err.println("RatioReport: cases failed: " + String.join(", ", failed));
        }
        if (!pass || !failed.isEmpty()) {
            System.exit(1);
        }
    }

    /**
     * All-reduce and reduce-scatter with one rank per OpenCL device of one context (the devices fold
     * with their own kernel), against the same BW: where fewer than two OpenCL devices exist (PoCL:
     * {@code POCL_DEVICES="pthread pthread"}), the table says so instead.
     */
    private static void openClCollectives(boolean quick, StringBuilder md, List<Figure> figures, double bandwidth, double bandwidthError)
            throws RunnerException {
        long devices;
        try (dev.kernelbridge.KernelBridge probe = dev.kernelbridge.KernelBridge.open(dev.kernelbridge.Config.defaults().with(dev.kernelbridge.Config.BACKEND, "opencl"))) {
            devices = probe.devices().stream().filter(d -> d.id().startsWith("opencl:")).count();
        } catch (RuntimeException e) {
            devices = 0;
        }
        md.append("### The same on OpenCL ranks of one context (F32, out of place)\n\n");
        if (devices < 2) {
            md.append("Not measured: ").append(devices).append(" OpenCL device(s) here; two in one context are needed"
                    + " (with PoCL: POCL_DEVICES=\"pthread pthread\").\n\n");
            return;
        }
        String[] kib = quick ? new String[] {"16384"} : new String[] {"16384", "65536"};
        Collection<RunResult> rs = run(quick, CollectiveBandwidthBenchmark.class, opts -> opts.param("backend", "opencl")
                .param("kind", "allReduce", "reduceScatter").param("ranks", "2").param("kib", kib));
        md.append("| kind | ranks | size | algorithm bandwidth | bound | bound is | ratio |\n|---|---:|---:|---:|---:|---|---:|\n");
        collectiveRows(rs, "opencl_", md, figures, bandwidth, bandwidthError);
    }

    /** One table row and one figure (named with {@code prefix}) per collective result, against its bound at BW. */
    private static void collectiveRows(Collection<RunResult> rs, String prefix, StringBuilder md, List<Figure> figures, double bandwidth,
                                       double bandwidthError) {
        for (RunResult r : rs) {
            String kind = r.getParams().getParam("kind");
            int rankCount = Integer.parseInt(r.getParams().getParam("ranks"));
            int kb = Integer.parseInt(r.getParams().getParam("kib"));
            double bytes = kb * 1024.0;
            double score = r.getPrimaryResult().getScore();
            double alg = bytes / (score * 1e-6) / 1e9;
            double algError = alg * relativeError(score, r.getPrimaryResult().getScoreError());
            double share = bytes / CollectiveBandwidthBenchmark.trafficBytes(kind, rankCount, bytes);
            double bound = bandwidth * share;
            String size = kb % 1024 == 0 ? kb / 1024 + " MiB" : kb + " KiB";
            String formula = CollectiveBandwidthBenchmark.boundFormula(kind);
            md.append(String.format(Locale.ROOT, "| %s | %d | %s | %.2f | %.2f | %s | %.2f |%n", kind, rankCount, size, alg, bound, formula, alg / bound));
            figures.add(new Figure(prefix + CollectiveBandwidthBenchmark.figureName(kind, rankCount, kb), alg, algError, bound, bandwidthError * share,
                    formula, "GB/s"));
        }
        md.append('\n');
    }

    /**
     * Small and medium GEMMs, where per-call cost and packing decide (issue: fast at every size): square
     * F32 and F64 from 16 to 256 against OpenBLAS on every core, and an 8×8×8 SGEMM through {@code Blas}
     * against the same call straight into OpenBLAS.
     */

    private static void small(boolean quick, StringBuilder md, List<Figure> figures) throws RunnerException {
        String[] sizes = quick ? new String[] {"16", "64", "256"} : new String[] {"16", "32", "64", "128", "256"};
        Collection<RunResult> rs = run(quick, GemmBenchmark.class, opts -> opts.param("n", sizes).param("impl", "kernelbridge", "openblas"));
        md.append("## Small GEMM, square n×n×n, column-major, every core (GFLOP/s, ours / OpenBLAS; target ≥ 1.0)\n\n");
        md.append("| dtype | n | KernelBridge | OpenBLAS | ratio |\n|---|---:|---:|---:|---:|\n");
        for (String dtype : new String[] {"f32", "f64"}) {
            for (String n : sizes) {
                double[] ours = gflops(rs, "kernelbridge", dtype, n), theirs = gflops(rs, "openblas", dtype, n);
                md.append(String.format(Locale.ROOT, "| %s | %s | %.1f | %.1f | %.2f |%n", dtype, n, ours[0], theirs[0], ours[0] / theirs[0]));
                figures.add(new Figure("gemm_small_" + dtype + "_n" + n, ours[0], ours[1], theirs[0], theirs[1], "OpenBLAS", "GFLOP/s"));
            }
        }
        Collection<RunResult> dispatch = run(quick, DispatchBenchmark.class, opts -> opts.param("routine", "auto"));
        double oursNs = 1e3 * score(dispatch, "tinyGemmKernelBridge"), theirsNs = 1e3 * score(dispatch, "tinyGemmOpenBlas");
        md.append(String.format(Locale.ROOT, "%n8×8×8 SGEMM: %.1f ns through Blas, %.1f ns straight into OpenBLAS via FFM: %.2f× its time (target ≤ 2)%n%n",
                oursNs, theirsNs, oursNs / theirsNs));
    }

    static double relativeError(double score, double error) {
        return Double.isNaN(error) || score == 0 ? 0 : error / score;
    }

    interface Tweak {
        ChainedOptionsBuilder apply(ChainedOptionsBuilder o);
    }

    private static Collection<RunResult> run(boolean quick, Class<?> benchmark, Tweak tweak) throws RunnerException {
        return run(quick, benchmark, tweak, true);
    }

    /** With {@code failOnError} false a failing case leaves no result and the others still run. */
    static Collection<RunResult> run(boolean quick, Class<?> benchmark, Tweak tweak, boolean failOnError) throws RunnerException {
        ChainedOptionsBuilder o = new OptionsBuilder().include(benchmark.getName() + "\\.").shouldFailOnError(failOnError);
        if (quick) {
            // Three forks of three measurements: a fork on a noisy VM can be off as a whole, so the
            // error must see several forks to be a usable noise estimate.
            o = o.forks(3).warmupIterations(2).warmupTime(TimeValue.seconds(1)).measurementIterations(3).measurementTime(TimeValue.seconds(1));
        }
        return new Runner(tweak.apply(o).timeUnit(TimeUnit.MICROSECONDS).build()).run();
    }

    private static double[] shapeGflops(Collection<RunResult> rs, String impl, Cases.GemmShape shape) {
        for (RunResult r : rs) {
            var p = r.getParams();
            if (p.getParam("impl").equals(impl) && p.getParam("shape").equals(shape.id())) {
                double g = shape.flops() / (r.getPrimaryResult().getScore() * 1e-6) / 1e9;
                return new double[] {g, g * relativeError(r.getPrimaryResult().getScore(), r.getPrimaryResult().getScoreError())};
            }
        }
        return new double[] {Double.NaN, Double.NaN};
    }

    /** Score of the benchmark method {@code method} in {@code rs}. */
    private static double score(Collection<RunResult> rs, String method) {
        for (RunResult r : rs) {
            if (r.getParams().getBenchmark().endsWith("." + method)) {
                return r.getPrimaryResult().getScore();
            }
        }
        return Double.NaN;
    }

    /** GFLOP/s and its error for one case, or NaNs when the case did not run (peer unavailable). */
    private static double[] gflops(Collection<RunResult> rs, String impl, String dtype, String n) {
        for (RunResult r : rs) {
            var p = r.getParams();
            if (p.getParam("impl").equals(impl) && (dtype == null || dtype.equals(p.getParam("dtype"))) && p.getParam("n").equals(n)) {
                double size = Double.parseDouble(n);
                double g = 2 * size * size * size / (r.getPrimaryResult().getScore() * 1e-6) / 1e9;
                return new double[] {g, g * relativeError(r.getPrimaryResult().getScore(), r.getPrimaryResult().getScoreError())};
            }
        }
        return new double[] {Double.NaN, Double.NaN};
    }

}
