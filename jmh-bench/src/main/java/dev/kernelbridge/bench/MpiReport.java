package dev.kernelbridge.bench;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Joins the JSON lines of a C peer and of {@link MpiAllReduceRatio} (or, with {@code --op alltoallv},
 * {@link MpiAllToAllRatio}) into report.md and results.json: per rank count and size, time per call
 * of each and our overhead over the peer. With {@code --baselines DIR} the figures are gated
 * against this machine's baseline of {@code --mode} as {@link RatioReport} gates its own, and a
 * regression exits 1.
 * Usage: MpiReport OUT_DIR [--op allreduce|alltoallv] [--baselines DIR --mode NAME [--update-baseline]] peer.jsonl... -- ours.jsonl...
 */
public final class MpiReport {
    private MpiReport() { }

    public static void main(String[] args) throws IOException {
        if (!report(args)) {
            System.exit(1);
        }
    }

    /** Writes the report; false when the gate found a regression. */
    static boolean report(String[] args) throws IOException {
        Path out = Path.of(args[0]);
        int first = 1;
        String op = "allreduce", mode = null;
        Path baselines = null;
        boolean update = false;
        for (; first < args.length && args[first].startsWith("--") && !args[first].equals("--"); first++) {
            switch (args[first]) {
                case "--op" -> op = args[++first];
                case "--baselines" -> baselines = Path.of(args[++first]);
                case "--mode" -> mode = args[++first];
                case "--update-baseline" -> update = true;
                default -> throw new IllegalArgumentException("unknown option " + args[first]);
            }
        }
        if (baselines != null && mode == null) {
            throw new IllegalArgumentException("--baselines needs --mode (the baseline's name, e.g. full-moe-mpi)");
        }
        Collective c = switch (op) {
            case "allreduce" -> new Collective("all-reduce", "MPI_Allreduce", "F32 sum", "MiB");
            case "alltoallv" -> new Collective("all-to-all-v", "MPI_Alltoallv", "F32, the same block to every peer", "MiB per peer");
            default -> throw new IllegalArgumentException("--op must be allreduce or alltoallv, got " + op);
        };
        Map<String, List<Double>> peerRuns = new TreeMap<>(), ourRuns = new TreeMap<>(), ffmRuns = new TreeMap<>(), ratioRuns = new TreeMap<>();
        boolean ours = false;
        for (int i = first; i < args.length; i++) {
            if (args[i].equals("--")) {
                ours = true;
                continue;
            }
            for (String line : Files.readAllLines(Path.of(args[i]))) {
                if (!line.startsWith("{")) {
                    continue;
                }
                JsonObject o = JsonParser.parseString(line).getAsJsonObject();
                String key = String.format(Locale.ROOT, "%d %012d", o.get("ranks").getAsInt(), o.get("bytes").getAsLong());
                (ours ? ourRuns : peerRuns).computeIfAbsent(key, k -> new ArrayList<>()).add(o.get("us").getAsDouble());
                if (ours && o.has("ratio")) { // the same call from our JVM, timed in the same rounds (MpiAllReduceRatio)
                    ffmRuns.computeIfAbsent(key, k -> new ArrayList<>()).add(o.get("ffm_us").getAsDouble());
                    ratioRuns.computeIfAbsent(key, k -> new ArrayList<>()).add(o.get("ratio").getAsDouble());
                }
            }
        }
        Map<String, double[]> rows = new TreeMap<>();
        for (String key : peerRuns.keySet()) {
            List<Double> p = peerRuns.get(key), o = ourRuns.getOrDefault(key, List.of());
            // median of the runs' medians, and the spread of each side as its error
            rows.put(key, new double[] {median(p), median(o), o.isEmpty() ? 0 : (max(o) - min(o)) / 2, (max(p) - min(p)) / 2});
        }
        StringBuilder md = new StringBuilder("# KernelBridge MPI " + c.name() + " against plain C " + c.peer() + ", " + Instant.now() + "\n\n");
        md.append(c.data()).append(", one rank per process, mpirun on this host (").append(Runtime.getRuntime().availableProcessors())
                .append(" cores, oversubscribed at 4 ranks). Time per call in µs, the median over alternating runs of each side of each run's median; overhead = ours / C − 1.\n\n");
        boolean sameRound = !ratioRuns.isEmpty();
        if (sameRound) {
            md.append("Each run of ours also timed plain ").append(c.peer()).append(" called from the same JVM through FFM, in the same rounds"
                    + " (alternating with ours): overhead in rounds = the median over runs of the median per-round ratio ours / that call − 1."
                    + " It is the figure to judge by: between separate runs, the same C program varies by up to 4× on this VM"
                    + " (the scheduler places unbound ranks on one core or two).\n\n");
            md.append("| ranks | ").append(c.size()).append(" | C ").append(c.peer()).append(" | KernelBridge | overhead | ").append(c.peer())
                    .append(" from our JVM, same rounds | overhead in rounds |\n|---:|---:|---:|---:|---:|---:|---:|\n");
        } else {
            md.append("| ranks | ").append(c.size()).append(" | C ").append(c.peer()).append(" | KernelBridge | overhead |\n|---:|---:|---:|---:|---:|\n");
        }
        List<Figure> figures = new ArrayList<>();
        for (var e : rows.entrySet()) {
            String[] k = e.getKey().split(" ");
            int ranks = Integer.parseInt(k[0]);
            long bytes = Long.parseLong(k[1]);
            double peer = e.getValue()[0], mine = e.getValue()[1];
            md.append(String.format(Locale.ROOT, "| %d | %s | %.1f | %.1f | %+.1f %% |", ranks, mib(bytes), peer, mine, (mine / peer - 1) * 100));
            if (sameRound) {
                List<Double> ratios = ratioRuns.getOrDefault(e.getKey(), List.of());
                md.append(String.format(Locale.ROOT, " %.1f | %+.1f %% |", median(ffmRuns.getOrDefault(e.getKey(), List.of())), (median(ratios) - 1) * 100));
                // Rate relative to the same-round call: 1 / ratio, gated like every other ratio.
                figures.add(new Figure("mpi_" + op + "_r" + ranks + "_" + bytes + "b_vs_same_jvm", 1 / median(ratios),
                        ratios.isEmpty() ? 0 : (1 / min(ratios) - 1 / max(ratios)) / 2, 1, 0, c.peer() + " from our JVM", "ratio"));
            }
            md.append('\n');
            double gbOurs = bytes / mine / 1e3, gbPeer = bytes / peer / 1e3;
            figures.add(new Figure("mpi_" + op + "_r" + ranks + "_" + bytes + "b", gbOurs, gbOurs * e.getValue()[2] / mine, gbPeer,
                    gbPeer * e.getValue()[3] / peer, "C " + c.peer(), "GB/s"));
        }
        if (sameRound) {
            // Within 5 % at 1 MiB and more: time ≤ 1.05 × the same-round call's.
            md.append('\n').append(DTypeReport.targets("Target (issue 20)", List.of(new DTypeReport.Target(
                    java.util.regex.Pattern.compile("mpi_allreduce_r\\d+_(\\d{7,})b_vs_same_jvm"), 1 / 1.05,
                    "MPI all-reduce rate / the same call's in the same rounds, at ≥ 1 MiB (within 5 %)")), figures));
        }
        if (op.equals("alltoallv")) {
            // Within 10 % of C: time ≤ 1.1 × C's, so a rate ≥ C's / 1.1.
            md.append('\n').append(DTypeReport.targets("Target (issue 15)", List.of(new DTypeReport.Target(
                    java.util.regex.Pattern.compile("mpi_alltoallv_r\\d+_\\d+b"), 1 / 1.1, "MPI all-to-all-v rate / C MPI_Alltoallv's (within 10 %)")), figures));
        }
        Results results = new Results(Instant.now().toString(), Results.fingerprint(OpenBlas.get().map(OpenBlas::coreName).orElse("unavailable")), figures);
        boolean pass = true;
        if (baselines != null) {
            Baselines.Outcome gate = Baselines.gate(baselines, results, mode, update);
            md.append('\n').append(gate.markdown());
            pass = gate.pass();
        }
        Files.createDirectories(out);
        Files.writeString(out.resolve("report.md"), md);
        results.write(out.resolve("results.json"));
        System.out.print(md);
        return pass;
    }

    /** How the report names the collective, its C peer, its data and its size column. */
    private record Collective(String name, String peer, String data, String size) { }

    private static double median(List<Double> xs) {
        if (xs.isEmpty()) {
            return Double.NaN;
        }
        List<Double> s = xs.stream().sorted().toList();
        return s.size() % 2 == 1 ? s.get(s.size() / 2) : (s.get(s.size() / 2 - 1) + s.get(s.size() / 2)) / 2;
    }

    private static double min(List<Double> xs) { return xs.stream().mapToDouble(Double::doubleValue).min().orElse(Double.NaN); }

    private static double max(List<Double> xs) { return xs.stream().mapToDouble(Double::doubleValue).max().orElse(Double.NaN); }

    private static String mib(long bytes) {
        double m = bytes / (double) (1 << 20);
        return m == Math.rint(m) ? String.valueOf((long) m) : String.format(Locale.ROOT, "%.3f", m);
    }
}
